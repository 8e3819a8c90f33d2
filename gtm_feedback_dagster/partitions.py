"""Product areas as Dagster partitions.

Dynamic, not static: areas are created at run time (`gtm-feedback areas create`) and
`product_area_partitions_sensor` keeps the partition keys in step with the `product_areas` table.
Keys are area slugs and are never deleted, because a deleted key orphans its history.
"""

import dagster as dg

product_area_partitions = dg.DynamicPartitionsDefinition(name="product_area")
