"""The probe screen for any server: an address field (remembered), Enter on any row, a warning
before measuring another model than the one on screen, and an empty state that says how to
start a server. Against an OpenAI-compatible server double on loopback."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Input, OptionList, Static

from tests.support.probe_doubles import free_port, openai_double, serve
from tests.support.waiting import PATIENT_PROBE, wait_until
from vramtui.app.config import saved_probe_url
from vramtui.app.screens.dialogs import PickOne
from vramtui.app.screens.probe import ProbeScreen
from vramtui.core.probe.results import Prediction, ProbeResult

T = PATIENT_PROBE
NOWHERE = {"llamacpp": 0}  # filled with a free port per test: nothing listens there


class Host(App[None]):
    def __init__(self, screen: ProbeScreen) -> None:
        super().__init__()
        self.probe = screen
        self.dismissed: list[ProbeResult | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.probe, callback=self.dismissed.append)


def quiet_screen(**kwargs: object) -> ProbeScreen:
    """A probe screen that finds nothing on this machine's ports (they are other tests')."""
    ports = {"llamacpp": free_port()}
    return ProbeScreen(ports=ports, timeouts=T, save_history=False, **kwargs)  # type: ignore[arg-type]


def prompts(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_no_server_says_how_to_start_one() -> None:
    screen = quiet_screen()
    app = Host(screen)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(
            pilot, lambda: "No server" in str(screen.query_one("#probe-text").render())
        )
        text = str(screen.query_one("#probe-text", Static).render())
        for line in ("llama-server -m", "lms server start", "ollama serve"):
            assert line in text


async def test_any_address_is_probed_and_remembered() -> None:
    with serve(openai_double()) as double:
        screen = quiet_screen()
        app = Host(screen)
        async with app.run_test(size=(120, 36)) as pilot:
            options = screen.query_one("#probe-servers", OptionList)
            await wait_until(pilot, lambda: "no server found" in " ".join(prompts(options)))
            field = screen.query_one("#probe-url", Input)
            field.focus()
            await pilot.press(*f"127.0.0.1:{double.port}", "enter")
            await wait_until(pilot, lambda: "local-model" in " ".join(prompts(options)))
            assert double.url in prompts(options)[0]
        assert saved_probe_url() == double.url
        # Next time the address is there already, and so is its server.
        again = quiet_screen()
        app = Host(again)
        async with app.run_test(size=(120, 36)) as pilot:
            assert again.query_one("#probe-url", Input).value == double.url
            options = again.query_one("#probe-servers", OptionList)
            await wait_until(pilot, lambda: "local-model" in " ".join(prompts(options)))


async def test_a_bad_address_explains_itself() -> None:
    screen = quiet_screen()
    app = Host(screen)
    async with app.run_test(size=(120, 36)) as pilot:
        screen.query_one("#probe-url", Input).focus()
        await pilot.press(*"ftp://x", "enter")
        await pilot.pause()
        problem = str(screen.query_one("#probe-url-problem", Static).render())
        assert "only http:// and https://" in problem and "try" in problem
    assert saved_probe_url() is None


async def test_enter_on_the_server_row_measures_its_model() -> None:
    with serve(openai_double()) as double:
        screen = ProbeScreen(
            ports={"llamacpp": double.port}, timeouts=T, max_tokens=8, save_history=False
        )
        app = Host(screen)
        async with app.run_test(size=(120, 36)) as pilot:
            options = screen.query_one("#probe-servers", OptionList)
            await wait_until(pilot, lambda: options.option_count >= 2)
            options.focus()
            options.highlighted = 0  # the server's own row, not a model
            await pilot.press("enter")
            await wait_until(pilot, lambda: screen.result is not None)
            assert screen.result is not None and screen.result.model == "local-model"


async def test_another_model_than_the_one_on_screen_is_measured_only_when_confirmed() -> None:
    prediction = Prediction(
        decode_tps=40.0,
        ttft_s=0.5,
        device_bytes=None,
        label="GLM on the laptop",
        model_names=("glm-4.7-flash:Q4_K_M", "GLM-4.7-Flash"),
    )
    with serve(openai_double()) as double:
        screen = ProbeScreen(
            ports={"llamacpp": double.port},
            prediction=prediction,
            timeouts=T,
            max_tokens=8,
            save_history=False,
        )
        app = Host(screen)
        async with app.run_test(size=(120, 36)) as pilot:
            options = screen.query_one("#probe-servers", OptionList)
            await wait_until(pilot, lambda: options.option_count >= 2)
            options.focus()
            options.highlighted = 1
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
            assert "local-model" in str(app.screen.query_one(".dialog-title").render())
            await pilot.press("down", "enter")  # Cancel
            await pilot.pause()
            assert app.screen is screen and not screen.running and screen.result is None
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
            await pilot.press("enter")  # Measure it anyway
            await wait_until(pilot, lambda: screen.result is not None)
            await pilot.pause()
            # Measured, but not set against the prediction for another model.
            note = str(screen.query_one("#probe-note", Static).render())
            assert "not the model on screen" in note
            table = screen.query_one("#probe-table")
            decode = next(r for r in map(table.get_row, table.rows) if str(r[0]) == "decode")
            assert decode[2] == "-" and decode[3] == "-"
