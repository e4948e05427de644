"""GARCH(1,1) fits with the ``arch`` package, for the volatility producer."""

import importlib.metadata

import numpy as np

from quantdesk.services.columns import Float64Array
from quantdesk.services.ports import GarchFit


class ArchGarchFitter:
    """Zero-mean GARCH(1,1), normal errors, maximum likelihood by ``arch``.

    Returns are divided by their standard deviation before the fit (``arch`` optimises badly
    on per-bar returns of 1e-4) and the parameters scaled back, so the result is in the units
    given. ``arch`` is imported on the first fit: it costs one to two seconds, which every
    other command should not pay.
    """

    @property
    def model_version(self) -> str:
        return f"arch-{importlib.metadata.version('arch')}"

    def fit(self, returns: Float64Array) -> GarchFit:
        from arch import arch_model

        data = np.asarray(returns, dtype=np.float64)
        std = float(np.std(data))
        if data.shape[0] < 10 or not std > 0:
            return GarchFit(omega=0.0, alpha=0.0, beta=0.0, next_variance=0.0, converged=False)
        scale = 1.0 / std
        model = arch_model(
            data * scale, mean="Zero", vol="GARCH", p=1, q=1, dist="normal", rescale=False
        )
        result = model.fit(disp="off", show_warning=False)
        params = result.params
        forecast = result.forecast(horizon=1, reindex=False)
        next_variance = float(forecast.variance.to_numpy()[-1, 0])
        variance_scale = scale * scale
        return GarchFit(
            omega=float(params["omega"]) / variance_scale,
            alpha=float(params["alpha[1]"]),
            beta=float(params["beta[1]"]),
            next_variance=next_variance / variance_scale,
            converged=int(result.convergence_flag) == 0,
        )
