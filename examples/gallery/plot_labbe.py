"""
L'Abbé plot
===========

The risk of tuberculosis in each trial's vaccinated group against its unvaccinated group (L'Abbé,
Detsky & O'Rourke, 1987), on a log scale, with the pooled risk ratio as a line: points below
the diagonal favour the vaccine.
"""

import pandas as pd

import metareview as mr
from metareview.casestudies import example_folder

trials = pd.read_csv(example_folder("bcg-vaccine") / "trials.csv")
trials["study"] = trials["Author"] + " " + trials["Year"].astype(str)
es = mr.escalc(
    "RR",
    trials,
    ai="TB cases, vaccinated",
    bi="No TB, vaccinated",
    ci="TB cases, control",
    di="No TB, control",
    slab="study",
)
res = mr.rma(es, method="REML")
fig = mr.labbe(
    es["TB cases, vaccinated"],
    es["No TB, vaccinated"],
    es["TB cases, control"],
    es["No TB, control"],
    res=res,
    scale="log",
    xlabel="Tuberculosis risk, unvaccinated (log scale)",
    ylabel="Tuberculosis risk, vaccinated (log scale)",
)
