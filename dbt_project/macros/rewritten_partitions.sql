{#- The data tests of an incremental model that rewrites whole partitions read, in a run that
    rewrote only some of them, only those (DECISIONS.md, Running the project).

    The model calls record_rewritten_from(column, value) when it rewrites the partitions
    `column >= value` and leaves the ones before as they were (byte for byte). The value is
    kept for this dbt invocation on the model's entry in `graph`; get_where_subquery, which
    wraps the relation every generic test reads, then reads `column >= value` of it. A test run
    on its own (`dbt test`), a full build and a full refresh record nothing and read the whole
    table, and so does every test when CS_DBT_TESTS_WHOLE_TABLES is true: the pipeline sets it
    unless the last dbt build of every model passed (dbt writes a model before testing it, so a
    failed build leaves untested rows in months the next run would not rewrite;
    orchestration/defs/dbt/assets.py, whole_table_tests_env). Every test of such a model must
    hold partition by partition (row-local, or a key that determines the partition); a test
    that does not sets `meta: {whole_table: true}`. -#}
{% macro record_rewritten_from(column, value) -%}
    {%- if execute and value -%}
        {%- do graph.nodes[model.unique_id].update(
            {'cs_rewritten_from': {'column': column, 'value': value | string}}) -%}
    {%- endif -%}
{%- endmacro %}


{#- dbt's own macro, with the rewritten partitions (above) as a filter of the tested relation.
    Without them it is dbt's default__get_where_subquery. -#}
{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node or '', {}) if execute else {} -%}
    {%- set rewritten = tested.get('cs_rewritten_from') -%}
    {%- if rewritten and not config.get('meta', {}).get('whole_table')
          and env_var('CS_DBT_TESTS_WHOLE_TABLES', 'false') != 'true' -%}
        {%- do filters.append(rewritten['column'] ~ " >= cast('" ~ rewritten['value'] ~ "' as date)") -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- An incremental model that rewrites whole months from the month of its latest stored day:
    that month's first day (a date literal), or none for a full build. Also records it for the
    model's tests (record_rewritten_from). -#}
{% macro rewrite_from_latest_month(partition_column, date_column) -%}
    {%- set rewrite_from = none -%}
    {%- if is_incremental() and execute -%}
        {%- set bounds_query -%}
            select {{ cs_metrics.month_start('max(' ~ date_column ~ ')') }} from {{ this }}
        {%- endset -%}
        {%- set found = run_query(bounds_query).columns[0].values()[0] -%}
        {%- if found is not none -%}
            {%- set rewrite_from = (found | string)[:10] -%}
        {%- endif -%}
    {%- endif -%}
    {%- do cs_metrics.record_rewritten_from(partition_column, rewrite_from) -%}
    {%- do return(rewrite_from) -%}
{%- endmacro %}
