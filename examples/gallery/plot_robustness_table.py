"""
Robustness table: one outcome, every reasonable method
======================================================

A pooled number depends on choices (effect measure, continuity correction, tau² estimator,
Hartung-Knapp or not). ``metareview report`` fits an outcome by every method its data type
allows and shows the spread. Here the seed review's immediate pain-relief rate (Zhao, Wang &
Wang, 2018, Table 1, bundled as ``ketamine-crps``): the paper printed 69% (53% to 84%) from
DerSimonian-Laird on raw proportions.
"""

import warnings

import matplotlib.pyplot as plt

from metareview.casestudies import example_folder
from metareview.report.analyses import analyse_outcome
from metareview.report.protocol import load_protocol

protocol = load_protocol(example_folder("ketamine-crps"))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the report lists omitted studies; not repeated here
    analysis = analyse_outcome(protocol, protocol.outcome("immediate"))

# %%
# One row per way of pooling; ``published`` marks the paper's own method, ``main`` the
# protocol's. (sphinx-gallery renders a block's last expression, a DataFrame, as a table.)
analysis.robustness[["k", "estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "I2", "published"]]

# %%
# The same rows drawn: each method's pooled rate with its 95% CI, the paper's numbers dashed.
rows = analysis.robustness.iloc[::-1]
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
y = range(len(rows))
ax.errorbar(
    rows["estimate"] * 100,
    y,
    xerr=[(rows["estimate"] - rows["ci_lb"]) * 100, (rows["ci_ub"] - rows["estimate"]) * 100],
    fmt="o",
    color="#1f4e79",
    capsize=3,
)
for value in (69, 53, 84):  # the paper: 69% (53%, 84%)
    ax.axvline(value, color="grey", linestyle="--", linewidth=0.8)
ax.set_yticks(list(y), [label[:60] for label in rows.index])
ax.set_xlabel("Immediate pain relief, % (95% CI)")
_ = ax.set_title("Dashed: the paper's 69% (53%, 84%)", loc="left", fontsize="medium")
