{#- Personal data of customer contacts (names, emails) stays out of the marts unless the var
    include_contact_personal_data is true (env CS_INCLUDE_CONTACT_PERSONAL_DATA; DECISIONS.md,
    Personal data in the marts). -#}

{% macro include_contact_personal_data() -%}
    {{ return(var('include_contact_personal_data', false) | string | lower in ['true', '1', 'yes']) }}
{%- endmacro %}

{#- How a mart names a contact of relation alias `rel` (with contact_id and full_name): the
    CRM contact id by default, the full name when personal data is configured in. -#}
{% macro contact_label(rel) -%}
    {%- if cs_metrics.include_contact_personal_data() -%}
        coalesce({{ rel }}.full_name, 'unnamed')
    {%- else -%}
        'contact ' || {{ rel }}.contact_id
    {%- endif -%}
{%- endmacro %}
