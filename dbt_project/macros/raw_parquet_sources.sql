{#- on-run-start: make the raw layer readable by the target.

    DuckDB (the default): nothing to do, the extract step loads `raw.<table>` into the build
    database itself.

    Spark: the extract step writes each contract-checked raw table as a Parquet folder,
    `$CS_RAW_PARQUET_DIR/<identifier>.parquet/` (orchestration/lib/raw_parquet.py). Every source
    of this project is registered over its folder as an external Parquet table, dropped and
    created again on each run so that its columns follow the files. Sources come from the
    graph, so a new source needs no edit here. Dropping an external table never deletes its
    files. -#}

{% macro register_raw_parquet_sources() -%}
    {{ return(adapter.dispatch('register_raw_parquet_sources', 'cs_metrics')()) }}
{%- endmacro %}

{% macro default__register_raw_parquet_sources() -%}
{%- endmacro %}

{% macro spark__register_raw_parquet_sources() -%}
    {%- if execute -%}
        {%- set parquet_dir = env_var('CS_RAW_PARQUET_DIR', '../data/warehouse/raw_parquet').rstrip('/') -%}
        {%- if not parquet_dir.startswith('/') and '://' not in parquet_dir -%}
            {#- Relative to the folder dbt runs in, like the DuckDB target's paths (Spark would
                resolve a relative location against its warehouse folder instead). -#}
            {%- set cwd = run_query(
                "select reflect('java.lang.System', 'getProperty', 'user.dir')"
            ).columns[0].values()[0] -%}
            {%- set parquet_dir = cwd.rstrip('/') ~ '/' ~ parquet_dir -%}
        {%- endif -%}
        {%- set sources = graph.sources.values()
            | selectattr('package_name', 'equalto', project_name)
            | sort(attribute='unique_id') -%}
        {%- set schemas = sources | map(attribute='schema') | unique | list -%}
        {%- for schema in schemas -%}
            {%- do run_query('create database if not exists ' ~ adapter.quote(schema)) -%}
        {%- endfor -%}
        {%- for source in sources -%}
            {%- set table = adapter.quote(source.schema) ~ '.' ~ adapter.quote(source.identifier) -%}
            {%- set location = parquet_dir ~ '/' ~ source.identifier ~ '.parquet' -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query(
                'create table ' ~ table ~ ' using parquet location '
                ~ "'" ~ location | replace("'", "\\'") ~ "'") -%}
        {%- endfor -%}
        {%- do log('registered ' ~ sources | length ~ ' raw sources over Parquet in ' ~ parquet_dir, info=true) -%}
    {%- endif -%}
{%- endmacro %}
