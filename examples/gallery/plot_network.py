"""
Network meta-analysis
=====================

Four adjuvant treatments for Parkinson's disease (dopamine agonists, COMT inhibitors, MAO-B
inhibitors, placebo) in 29 trials, one with three arms (Stowe et al., 2010; the data of
metadat's ``dat.stowe2010``, example 1 of netmeta's article, Balduzzi et al., 2023). The
outcome is the mean reduction of "off" time in hours per day: negative is better.

:func:`metareview.nma` with ``method="DL"`` fits netmeta's random-effects model; its numbers
(tau² = 0.1518, dopamine agonists vs placebo −1.49 [−1.86; −1.12], P-scores 0.9677, 0.5664,
0.4659, 0) are those printed in that article, which the test suite checks.
"""

import io
import itertools

import numpy as np
import pandas as pd

import metareview as mr

# one row per arm: study, treatment, mean change, SD, n (Stowe et al., 2010)
ARMS = """study,treatment,mean,sd,n
DA(pr/B) Int,Dopamine Agonist,-1.9,4.3,152
DA(pr/B) Int,Placebo,-0.3,4.4,76
DA(B) Germany,Dopamine Agonist,-3.4,2.78,20
DA(B) Germany,Placebo,0.3,3.66,20
DA(C)Spain,Dopamine Agonist,-3.33,3.47,14
DA(C)Spain,Placebo,-2.47,3.91,12
DA(C) UK,Dopamine Agonist,-2,2.33,18
DA(C) UK,Placebo,-0.7,2.25,16
DA(C) USA,Dopamine Agonist,-2.08,3.19,89
DA(C) USA,Placebo,-0.77,3.34,46
DA(pe) N America,Dopamine Agonist,-1.8,4.8,189
DA(pe) N America,Placebo,-0.2,4.8,187
DA(Pr) Aus/ger,Dopamine Agonist,-2.3,2.7,23
DA(Pr) Aus/ger,Placebo,0.4,3.5,37
DA(Pr) CLEOPATRA,Dopamine Agonist,-2.8,2.83,200
DA(Pr) CLEOPATRA,Placebo,-0.9,5,100
DA(Pr) Denmark,Dopamine Agonist,-1.2,2.9,29
DA(Pr) Denmark,Placebo,-0.9,5,29
DA(Pr) Europe,Dopamine Agonist,-1.94,2.59,174
DA(Pr) Europe,Placebo,-0.12,3.11,180
DA(Pr) US/CANADA,Dopamine Agonist,-2.4,3.4,174
DA(Pr) US/CANADA,Placebo,-0.7,3.7,172
DA(Pr) EASE-PD,Dopamine Agonist,-2.1,4.54,201
DA(Pr) EASE-PD,Placebo,-0.3,4.41,190
DA(Pr) France/Eng,Dopamine Agonist,-1.74,2.36,23
DA(Pr) France/Eng,Placebo,-2.22,3,23
DA(Pr) UK/Israel,Dopamine Agonist,-1.33,2.35,42
DA(Pr) UK/Israel,Placebo,-0.75,2.81,22
DA(Pr) USA,Dopamine Agonist,-1.53,4.28,90
DA(Pr) USA,Placebo,-1.22,3.7,53
COMTI(E) Colemen,COMTI,-1.6,2.5,129
COMTI(E) Colemen,Placebo,-0.9,3.4,74
COMTI(E) ComQol,COMTI,-1,1.9,174
COMTI(E) ComQol,Placebo,-0.9,2,96
COMTI(E) INT-OZ,COMTI,-0.86,2.9,99
COMTI(E) INT-OZ,Placebo,-0.54,3.13,63
LARGO,COMTI,-1.2,2.21,218
LARGO,Placebo,-0.4,2.21,218
LARGO,MAOBI,-1.18,2.23,222
COMTI(E) Nomecomt,COMTI,-1.3,2.2,85
COMTI(E) Nomecomt,Placebo,-0.1,2.45,86
COMTI(E) Sth Korea,COMTI,-1.5,2.55,98
COMTI(E) Sth Korea,Placebo,-1,2.29,99
COMTI(E) UK/Irish,COMTI,-1.1,2.55,115
COMTI(E) UK/Irish,Placebo,-0.3,2.85,57
COMTI(T) China,COMTI,-1.9,3.3,20
COMTI(T) China,Placebo,0.15,3.3,20
COMTI(T) Europe,COMTI,-2.03,2.6,60
COMTI(T) Europe,Placebo,-0.67,2.8,58
COMTI(T) TFSG1,COMTI,-1.61,1.77,40
COMTI(T) TFSG1,Placebo,-0.04,1.75,42
COMTI(T) TFSG3,COMTI,-2,2.49,69
COMTI(T) TFSG3,Placebo,-0.3,2.55,72
COMTI(T) TIPS I,COMTI,-1.78,2.76,31
COMTI(T) TIPS I,Placebo,-0.11,2.63,37
MAOBI(R) PRESTO,MAOBI,-1.85,2.5,149
MAOBI(R) PRESTO,Placebo,-0.91,2.5,159
MAOBI(ZS) USA,MAOBI,-2.2,2.43,94
MAOBI(ZS) USA,Placebo,-0.6,2.49,46
"""
arms = pd.read_csv(io.StringIO(ARMS))

# %%
# netmeta's pairwise format: one row per pair of arms of a study (a three-arm study gives its
# three comparisons), the mean difference and its standard error.
rows = []
for study, g in arms.groupby("study", sort=False):
    for (_, a), (_, b) in itertools.combinations(g.iterrows(), 2):
        rows.append(
            {
                "studlab": study,
                "treat1": a["treatment"],
                "treat2": b["treatment"],
                "TE": a["mean"] - b["mean"],
                "seTE": np.sqrt(a["sd"] ** 2 / a["n"] + b["sd"] ** 2 / b["n"]),
            }
        )
pairs = pd.DataFrame(rows)
res = mr.nma(pairs, yi="TE", sei="seTE", reference="Placebo", method="DL")
print(res)

# %%
# The network: line width grows with the number of trials comparing two treatments, node
# area with the number of trials that have an arm of the treatment.
fig = mr.netgraph(res)

# %%
# Every treatment against placebo, with its P-score (the mean certainty of being better
# than each of the other treatments; Rücker & Schwarzer, 2015).
fig = mr.forest(res, measure="MD", xlabel="Mean difference in off time (hours/day)")

# %%
# The league table: every treatment against every other, ordered by P-score; blue cells
# favour the row treatment, vermillion the column treatment; bold: the CI excludes 0.
fig = mr.league_heatmap(res, measure="MD")

# %%
# Node-splitting: direct against indirect evidence where a comparison has both.
print(res.netsplit()[["treat1", "treat2", "direct", "indirect", "diff", "pval"]].round(3))
