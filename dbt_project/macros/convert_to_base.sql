{#
  Money conversion of METRICS.md, exact decimal arithmetic:

      round(amount × usd_per_unit(currency, d) × units_per_usd(base_currency, d), 2)

  No division and no DOUBLE. Operands are widened to DECIMAL(38, s) first: DuckDB keeps
  DECIMAL(18, …) × DECIMAL(18, …) at precision 18 and would overflow; in DECIMAL(38, 18) the
  product is exact (2 + 8 + 8 decimals) and leaves 20 integer digits. An overflow raises an
  error, never a wrong number. DuckDB's round() on DECIMAL rounds half away from zero.
#}
{% macro convert_to_base(amount, usd_per_unit, units_per_usd) -%}
    cast(
        round(
            cast({{ amount }} as decimal(38, 2))
            * cast({{ usd_per_unit }} as decimal(38, 8))
            * cast({{ units_per_usd }} as decimal(38, 8)),
            2
        ) as decimal(18, 2)
    )
{%- endmacro %}
