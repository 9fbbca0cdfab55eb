"""Helpers of the browser tests: wait for a plotly figure, click one of its points like a user."""

from __future__ import annotations

from playwright.sync_api import Page


def wait_for_plot(page: Page, graph_id: str, title_part: str) -> None:
    page.wait_for_function(
        "([id, part]) => { const el = document.querySelector(`#${id} .js-plotly-plot`);"
        " return el && el.layout && el.layout.title && el.layout.title.text.includes(part); }",
        arg=[graph_id, title_part],
    )


def click_point(page: Page, graph_id: str, trace: int, point: int) -> None:
    """A real mouse click on one point of a plotly trace, at the pixel plotly drew it."""
    x, y = page.evaluate(
        """([id, t, i]) => {
            const el = document.querySelector(`#${id} .js-plotly-plot`);
            el.scrollIntoView({block: 'center'});
            const trace = el._fullData[t], xa = el._fullLayout[trace.xaxis.replace('x', 'xaxis')],
                  ya = el._fullLayout[trace.yaxis.replace('y', 'yaxis')];
            const box = el.getBoundingClientRect();
            return [box.left + xa._offset + xa.c2p(trace.x[i]), box.top + ya._offset + ya.c2p(trace.y[i])];
        }""",
        [graph_id, trace, point],
    )
    page.mouse.move(x, y)
    page.mouse.click(x, y)
