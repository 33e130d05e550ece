"""
Multilevel forest plot
======================

Several effect sizes per study: 56 schools in 11 school districts, each school's standardized
mean difference in achievement between a modified and a conventional school calendar
(Konstantopoulos, 2011; metadat's ``dat.konstantopoulos2011``). A three-level model
(:func:`metareview.rma_mv`, ``random="~ 1 | district/school"``) pools them; the forest plot
groups the schools under their district, with each district's schools pooled on their own
(its sampling variances only, as metafor's ``aggregate()``) below them.
"""

import io

import pandas as pd

import metareview as mr

# district, school, year, standardized mean difference, its sampling variance
SCHOOLS = """district,school,year,yi,vi
11,1,1976,-0.18,0.118
11,2,1976,-0.22,0.118
11,3,1976,0.23,0.144
11,4,1976,-0.3,0.144
12,1,1989,0.13,0.014
12,2,1989,-0.26,0.014
12,3,1989,0.19,0.015
12,4,1989,0.32,0.024
18,1,1994,0.45,0.023
18,2,1994,0.38,0.043
18,3,1994,0.29,0.012
27,1,1976,0.16,0.02
27,2,1976,0.65,0.004
27,3,1976,0.36,0.004
27,4,1976,0.6,0.007
56,1,1997,0.08,0.019
56,2,1997,0.04,0.007
56,3,1997,0.19,0.005
56,4,1997,-0.06,0.004
58,1,1976,-0.18,0.02
58,2,1976,0,0.018
58,3,1976,0,0.019
58,4,1976,-0.28,0.022
58,5,1976,-0.04,0.02
58,6,1976,-0.3,0.021
58,7,1976,0.07,0.006
58,8,1976,0,0.007
58,9,1976,0.05,0.007
58,10,1976,-0.08,0.007
58,11,1976,-0.09,0.007
71,1,1997,0.3,0.015
71,2,1997,0.98,0.011
71,3,1997,1.19,0.01
86,1,1997,-0.07,0.001
86,2,1997,-0.05,0.001
86,3,1997,-0.01,0.001
86,4,1997,0.02,0.001
86,5,1997,-0.03,0.001
86,6,1997,0,0.001
86,7,1997,0.01,0.001
86,8,1997,-0.1,0.001
91,1,2000,0.5,0.01
91,2,2000,0.66,0.011
91,3,2000,0.2,0.01
91,4,2000,0,0.009
91,5,2000,0.05,0.013
91,6,2000,0.07,0.013
108,1,2000,-0.52,0.031
108,2,2000,0.7,0.031
108,3,2000,-0.03,0.03
108,4,2000,0.27,0.03
108,5,2000,-0.34,0.03
644,1,1995,0.12,0.087
644,2,1995,0.61,0.082
644,3,1994,0.04,0.067
644,4,1994,-0.05,0.067
"""
schools = pd.read_csv(io.StringIO(SCHOOLS))
schools["label"] = "School " + schools["school"].astype(str)
res = mr.rma_mv("yi", "vi", random="~ 1 | district/school", data=schools, slab="label")
print(res)

# %%
# ``group=`` names each effect size's study (here its district); weights are metafor's
# (the diagonal of the inverse marginal covariance, ``res.weights()``).
fig = mr.forest(
    res,
    group="District " + schools["district"].astype(str),
    measure="SMD",
    title="Modified school calendars and achievement (Konstantopoulos, 2011)",
)
print(res.aggregate(schools["district"]).round(3))
