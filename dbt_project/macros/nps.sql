{#- The NPS band of a 0-10 score (METRICS.md): 'promoter' when score >= nps_promoter_min (9),
    'detractor' when score <= nps_detractor_max (6), 'passive' in between; NULL without a score.
    One rule for staging and the marts, so the band can never differ between them. -#}
{% macro nps_category(score) -%}
    case
        when {{ score }} >= {{ var('nps_promoter_min') }} then 'promoter'
        when {{ score }} <= {{ var('nps_detractor_max') }} then 'detractor'
        when {{ score }} is not null then 'passive'
    end
{%- endmacro %}

{#- NPS = (promoters - detractors) / responses * 100, from -100 to 100, as DOUBLE; NULL without
    responses. Counted from the bands, never an average of scores; the integer difference is
    multiplied by 100 before the one division, so 5 promoters, 3 passives and 2 detractors give
    exactly 30. -#}
{% macro nps(promoters, detractors, responses) -%}
    {{ cs_metrics.safe_ratio('100 * (' ~ promoters ~ ' - ' ~ detractors ~ ')', responses) }}
{%- endmacro %}
