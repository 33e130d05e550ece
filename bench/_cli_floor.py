"""The frameworks' floor under the ``metareview`` commands, for bench_cli_startup.py.

Three commands of a bare typer app, started the way ``metareview.cli.main`` starts one (the
cyclic collector paused, what is alive frozen at the end), each doing the least a command of
ours does with the same libraries:

- ``table``: typer (with its pydantic) parses two options; rich prints a two-row table;
- ``store --store FILE``: the same, the rows read through SQLAlchemy's ORM (one mapped table
  in a SQLite file, one query);
- ``pvalue CSV``: the same, with numpy and one ``scipy.special`` function (a normal p-value).

A command of ours minus its floor is what metareview itself costs. (No ``from __future__
import annotations`` here: the table is declared inside a function, where SQLAlchemy could
not resolve ``Mapped`` in a string annotation.)
"""

import gc

gc.disable()
import typer  # noqa: E402

app = typer.Typer(add_completion=False, rich_markup_mode=None)  # as metareview's help


@app.command()
def table(store: str = typer.Option("x", "--store"), kind: str = typer.Option("a")) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = Table("name", "role")
    shown.add_row("Ana", store)
    shown.add_row("Ben", kind)
    Console().print(shown)


@app.command()
def store(store: str = typer.Option(..., "--store"), kind: str = typer.Option("a")) -> None:
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import String, create_engine, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Reviewer(Base):
        __tablename__ = "floor_reviewers"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(200))

    engine = create_engine(f"sqlite:///{store}")
    Base.metadata.create_all(engine)
    shown = Table("name", "role")
    with Session(engine) as session:
        for (name,) in session.execute(select(Reviewer.name)).all():
            shown.add_row(name, kind)
    Console().print(shown)
    engine.dispose()


@app.command()
def pvalue(csv: str, kind: str = typer.Option("a")) -> None:
    import numpy as np
    from scipy.special import ndtr

    yi = np.array([0.1, 0.3, 0.5, 0.2])
    print(csv, kind, float(2 * ndtr(-abs(yi.mean() / 0.1))))


if __name__ == "__main__":
    try:
        app()
    finally:
        gc.freeze()
