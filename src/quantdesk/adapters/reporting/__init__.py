"""Reports of backtest runs: self-contained HTML pages."""
