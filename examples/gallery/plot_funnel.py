"""
Funnel plot
===========

A contour-enhanced funnel plot of the BCG trials (Peters et al., 2008): the shaded regions
are where a study would be significant at 10%, 5% and 1%; the dashed line is Egger's
regression of the effects on their standard errors (Egger et al., 1997).
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
egger = mr.regtest(res)
print(egger.to_dict())
print(mr.ranktest(res).to_dict())
fig = mr.funnel(res, egger_line=egger, xlabel="Log risk ratio")
