"""
PRISMA 2020 flow diagram
========================

``metareview.plots.prisma`` draws the PRISMA 2020 flow (Page et al., 2021) from a mapping of
counts, which a review store derives from its records and votes
(``Store.prisma_counts``). A box whose count is unknown is drawn as "not reported"; nothing is
made up.

First the seed review (Zhao, Wang & Wang, 2018), which printed only two of the counts: 82
records identified and 15 studies included.
"""

import metareview as mr

published = {
    "records_databases": 82,  # from the paper
    "records_registers": None,
    "duplicates_removed": None,
    "records_removed_automation": None,
    "records_removed_other": None,
    "records_screened": None,
    "records_excluded": None,
    "reports_sought": None,
    "reports_not_retrieved": None,
    "reports_assessed": None,
    "reports_excluded": None,
    "studies_included": 15,  # from the paper
}
fig = mr.prisma(published)

# %%
# Every box of the template, with registers and the other-methods branch. These counts are
# ILLUSTRATIVE (invented): they describe no real review.
template = {
    "records_databases": {"MEDLINE": 412, "Embase": 388, "CENTRAL": 97},
    "records_registers": {"ClinicalTrials.gov": 31, "ICTRP": 12},
    "duplicates_removed": 301,
    "records_removed_automation": 24,
    "records_removed_other": 5,
    "records_screened": 610,
    "records_excluded": 548,
    "reports_sought": 62,
    "reports_not_retrieved": 4,
    "reports_assessed": 58,
    "reports_excluded": {
        "Wrong population": 17,
        "Wrong intervention": 9,
        "No comparator": 6,
        "Conference abstract only": 5,
    },
    "records_other_methods": {"Websites": 6, "Citation searching": 14},
    "other_reports_sought": 20,
    "other_reports_not_retrieved": 2,
    "other_reports_assessed": 18,
    "other_reports_excluded": {"Wrong population": 9, "Duplicate cohort": 5},
    "studies_included": 23,
    "reports_included": 25,
}
fig = mr.prisma(template)
