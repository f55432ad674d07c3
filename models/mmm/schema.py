"""The columns of Kaggle's "mmm-weekly-data-geoindia" file: what the synthetic generator writes.

The model reads any layout through a data specification (:mod:`models.mmm.spec`); this
file's is the ``geoindia`` preset there.
"""

from __future__ import annotations

KEYS = ["Geo", "Brand", "SKU"]
MEDIA = ["TV_Impressions", "YouTube_Impressions", "Facebook_Impressions", "Instagram_Impressions",
         "Print_Readership", "Radio_Listenership"]
CHANNELS = ["TV", "YouTube", "Facebook", "Instagram", "Print", "Radio"]
NUMERIC = ["Sales_Units", "Sales_Value", "MRP", "Net_Price", "Feature_Flag", "Display_Flag", "TPR_Flag", "Trade_Spend",
           *MEDIA, "FB_Banner_Content_Score", "IG_Banner_Content_Score", "Weighted_Distribution",
           "Numeric_Distribution", "TDP", "NOS", "CPI", "GDP_Growth", "Festival_Index", "Rainfall_Index"]
COLUMNS = ["week", *KEYS, *NUMERIC]
