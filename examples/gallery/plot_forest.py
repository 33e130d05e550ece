"""
Forest plot
===========

The BCG vaccine trials (Colditz et al., 1994): log risk ratios pooled by REML, drawn on the
risk-ratio scale, then the same trials in subgroups by method of allocation (each subgroup
with its own tau², and the test of subgroup differences that RevMan reports).
"""

import warnings

import pandas as pd

import metareview as mr
from metareview.casestudies import example_folder
from metareview.casestudies.ketamine_crps import immediate_response_rate

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
print(res)

# %%
# ``transf="exp"`` draws the log risk ratios as risk ratios; extra columns show the counts.
vaccinated = es["TB cases, vaccinated"] + es["No TB, vaccinated"]
control = es["TB cases, control"] + es["No TB, control"]
counts = {
    "Vaccinated": (es["TB cases, vaccinated"].astype(str) + "/" + vaccinated.astype(str)).tolist(),
    "Control": (es["TB cases, control"].astype(str) + "/" + control.astype(str)).tolist(),
}
fig = mr.forest(
    res, transf="exp", extra_columns=counts, sort_by="effect", title="BCG vaccine and tuberculosis"
)

# %%
# Subgroups: one fit per method of allocation, and the Q test between them.
by_allocation = mr.rma(es, method="REML", subgroup=es["Allocation"])
print(by_allocation.to_dict()["p_between"])
fig = mr.forest(by_allocation, transf="exp", title="By method of allocation")

# %%
# The same trials pooled as RevMan does by default for a risk ratio: Mantel-Haenszel (equal
# effects), from the counts rather than from ``yi`` and ``vi``.
mh = mr.rma_mh(
    es["TB cases, vaccinated"],
    es["No TB, vaccinated"],
    es["TB cases, control"],
    es["No TB, control"],
    measure="RR",
    slab=es["study"],
)
fig = mr.forest(mh, transf="exp", extra_columns=counts, title="Mantel-Haenszel")

# %%
# Mantel-Haenszel within each method of allocation, as RevMan lays out subgroups: each
# trial's share of the total weight, a subtotal per subgroup and the test between them.
mh_by_allocation = mr.rma_mh(
    es["TB cases, vaccinated"],
    es["No TB, vaccinated"],
    es["TB cases, control"],
    es["No TB, control"],
    measure="RR",
    slab=es["study"],
    subgroup=es["Allocation"],
)
fig = mr.forest(mh_by_allocation, transf="exp", title="Mantel-Haenszel by allocation")

# %%
# A single-group outcome on a back-transformed scale: the seed review's immediate pain-relief
# rate, pooled as the paper did (DerSimonian-Laird on raw proportions), in percent.
with warnings.catch_warnings():
    # one study (0% of 4 patients) has zero variance and leaves the fit, as in the paper's Stata
    warnings.simplefilter("ignore", mr.StudyOmittedWarning)
    seed = immediate_response_rate(example_folder("ketamine-crps"))
fig = mr.forest(
    seed,
    transf="percent",
    xlabel="Immediate pain relief (%)",
    title="Ketamine infusion for CRPS: immediate pain relief (Zhao et al. 2018)",
)
