{#- Fails for every row where `expression` is not true (NULL counts as a failure unless the
    expression handles it). Optional `where` narrows the rows tested. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
