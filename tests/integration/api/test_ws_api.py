"""/ws in the real app (``create_app`` over ``bootstrap``'s desk, real auth): a change made
over HTTP reaches a subscribed client as an event carrying the request's correlation id."""

from pathlib import Path

from quantdesk.domain.auth import Role
from support.api_desk import api_desk, document
from support.registry import trend


def test_a_registration_over_http_reaches_the_websocket(tmp_path: Path) -> None:
    with api_desk(tmp_path / "home") as api, api.client.websocket_connect("/api/v1/ws") as ws:
        ws.send_json({"type": "auth", "token": api.tokens[Role.viewer]})
        assert ws.receive_json()["role"] == "viewer"
        ws.send_json({"type": "subscribe", "events": ["strategy_update", "risk_alert"]})
        assert ws.receive_json()["type"] == "subscribed"
        registered = api.post(
            "/strategies",
            json={"definition": document(trend("trend-ws"))},
            as_={**api.headers(Role.researcher), "X-Request-ID": "req-ws-1"},
        )
        assert registered.status_code == 201, registered.text
        message = ws.receive_json()
        event = message["event"]
        assert (event["type"], event["subject"]) == ("strategy_update", "trend-ws@1")
        assert event["correlation_id"] == "req-ws-1"
        thrown = api.post(
            "/risk/kill-switch",
            Role.trader,
            json={"scope": "portfolio", "reason": "drill"},
        )
        assert thrown.status_code in (200, 201), thrown.text
        alert = ws.receive_json()["event"]
        assert (alert["type"], alert["payload"]["kill_switch"]) == ("risk_alert", "thrown")
