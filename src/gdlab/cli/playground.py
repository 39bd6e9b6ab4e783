"""``gdlab playground``: the local web page."""

from __future__ import annotations

import click

from gdlab.cli.options import user_input


@click.command("playground")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="port to listen on; 0 picks a free one",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--open", "open_browser", is_flag=True, help="open the page in a browser")
def playground_command(port: int, host: str, open_browser: bool) -> None:
    """A local web page: choose a surface, optimizers and their hyperparameters,
    click a start point on the contour and watch the trajectories (Ctrl-C stops).

    \b
    gdlab playground --open
    gdlab playground --port 0        # any free port; the URL is printed
    """
    from gdlab import playground

    with user_input():  # only host, port and socket raise; requests are handled apart
        playground.serve(host, port, open_browser=open_browser, progress=click.echo)
