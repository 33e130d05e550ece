"""
Baujat plot
===========

Each study's contribution to the heterogeneity statistic Q (x) against its influence on the
pooled estimate (y) (Baujat et al., 2002), for the BCG trials; the five most extreme are
labelled.
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
print(mr.baujat(res).round(3))
fig = mr.baujat_plot(res)
