"""
Risk-of-bias figures
====================

The traffic-light table and the weighted summary bars of a RoB 2 assessment (Sterne et al.,
2019); ``tool=`` also takes ``"ROBINS-I"`` and ``"NOS"``. In a review store the consensus
judgements come from dual assessment (``Store`` risk-of-bias methods).

The assessment below is ILLUSTRATIVE: invented judgements of eight fictional trials, chosen to
show every level in every column. It assesses no real study.
"""

import pandas as pd

import metareview as mr

assessments = pd.DataFrame(
    {
        "D1": ["Low", "Low", "Some concerns", "Low", "High", "Low", "Some concerns", "Low"],
        "D2": ["Low", "Some concerns", "Low", "Low", "Some concerns", "Low", "High", "Low"],
        "D3": ["Low", "Low", "Low", "Some concerns", "Low", "High", "Low", "Low"],
        "D4": ["Some concerns", "Low", "Low", "Low", "Low", "Low", "Some concerns", "Low"],
        "D5": ["Low", "Low", "Some concerns", "Low", "Some concerns", "Low", "Low", "Low"],
        "Overall": ["Some concerns"] * 4 + ["High"] * 3 + ["Low"],
        "Weight": [14.2, 9.8, 12.5, 18.1, 7.4, 11.0, 6.3, 20.7],
    },
    index=pd.Index([f"Trial {c}" for c in "ABCDEFGH"], name="Study"),
)
title = "ILLUSTRATIVE RoB 2 assessment (invented judgements, fictional trials)"
fig = mr.rob(assessments, tool="RoB2", title=title)

# %%
# The summary: the share of studies (here weighted by their meta-analytic weight) at each
# level, per domain.
fig = mr.rob_summary(assessments, tool="RoB2", weights="Weight", title=title)
