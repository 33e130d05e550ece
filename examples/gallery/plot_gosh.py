"""
GOSH plot
=========

Graphical display of study heterogeneity (Olkin, Dahabreh & Trikalinos, 2012): the pooled
estimate and I² of every one of the 2^13 - 1 = 8,191 subsets of the BCG trials, computed as one
batch on the pooling kernel. Subsets that contain the most influential study (largest Baujat
influence) are highlighted.
"""

import warnings

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
with warnings.catch_warnings():
    # a few subsets have their REML maximum at tau2 = 0 (set there, as metafor does)
    warnings.simplefilter("ignore", mr.ConvergenceWarning)
    subsets = mr.gosh(res)
print(len(subsets.table), "subsets")
print(subsets.table[["estimate", "I2"]].describe().round(3))
most_influential = str(mr.baujat(res)["y"].idxmax())
fig = mr.gosh_plot(subsets, ylabel="Log risk ratio", highlight=most_influential)
