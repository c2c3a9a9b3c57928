{#- Two ranges of one metric in seed_health_points must not overlap (lower bound inclusive,
    upper exclusive, an empty bound open), and a range must not be empty: otherwise a value
    would earn two point values, or none. Returns the offending pairs. -#}
with

points as (

    select metric, lower_bound, upper_bound, points
    from {{ ref('seed_health_points') }}

),

empty_ranges as (

    select metric, lower_bound, upper_bound, 'empty range' as problem
    from points
    where lower_bound is not null and upper_bound is not null and lower_bound >= upper_bound

),

overlapping_ranges as (

    select a.metric, a.lower_bound, a.upper_bound, 'overlaps another range' as problem
    from points as a
    inner join points as b
        on a.metric = b.metric
        and not (
            coalesce(a.lower_bound, -1e15) = coalesce(b.lower_bound, -1e15)
            and coalesce(a.upper_bound, 1e15) = coalesce(b.upper_bound, 1e15)
            and a.points = b.points
        )
        and coalesce(a.lower_bound, -1e15) < coalesce(b.upper_bound, 1e15)
        and coalesce(b.lower_bound, -1e15) < coalesce(a.upper_bound, 1e15)

)

select * from empty_ranges
union all
select * from overlapping_ranges
