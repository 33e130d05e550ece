"""
Bubble plot of a meta-regression
================================

Does BCG protect more far from the equator? A mixed-effects meta-regression of the log risk
ratio on absolute latitude (as in metafor's documentation of ``dat.bcg``), drawn as a bubble
plot: each trial a circle sized by its weight, with the fitted line and its confidence band.
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
res = mr.rma(es, method="REML", mods=es[["Absolute latitude"]])
print(res.table().round(4))
print(f"R2 = {res.to_dict()['R2']:.1f}%, QM p = {res.to_dict()['QMp']:.2g}")
fig = mr.bubble(res, xlabel="Absolute latitude (degrees)", ylabel="Log risk ratio")
