-- Dayparting of normal-priority playlist assignments: on which ISO weekdays (1 = Monday …
-- 7 = Sunday; NULL = every day) and between which local times (both NULL = all day) an
-- assignment competes, read in the timezone of the tablet's fleet. A window whose end is
-- before its start runs overnight and belongs to the day it starts (Fri 22:00–02:00 plays
-- into Saturday morning). Windows are half-open: [start, end).
-- Emergencies are never dayparted.
-- depends: 0007_device_tokens

ALTER TABLE playlist_assignments
    ADD COLUMN daypart_days  smallint[],
    ADD COLUMN daypart_start time(0),
    ADD COLUMN daypart_end   time(0),
    ADD CONSTRAINT playlist_assignments_daypart_days_check CHECK (
        daypart_days IS NULL OR (
            cardinality(daypart_days) BETWEEN 1 AND 7
            AND array_ndims(daypart_days) = 1
            AND array_position(daypart_days, NULL) IS NULL
            AND daypart_days <@ '{1,2,3,4,5,6,7}'::smallint[])),
    ADD CONSTRAINT playlist_assignments_daypart_times_check CHECK (
        (daypart_start IS NULL) = (daypart_end IS NULL)
        AND (daypart_start IS NULL OR (daypart_start <> daypart_end
                                       AND daypart_start < '24:00' AND daypart_end < '24:00'))),
    ADD CONSTRAINT playlist_assignments_daypart_priority_check CHECK (
        priority = 'normal' OR (daypart_days IS NULL AND daypart_start IS NULL));

-- The windows of one local day ``d`` as instants: [d + start, d + end) in ``tz`` (the end
-- on the next day when the window runs overnight or is all day). A wall time that does not
-- exist (a DST gap) is read as PostgreSQL reads it, and both functions below use this one
-- conversion, so the windows they test and the boundaries they list always agree.
CREATE FUNCTION fleethub_daypart_window(
    d date, start_at time, end_at time, tz text, OUT opens timestamptz, OUT closes timestamptz)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (d + coalesce(start_at, time '00:00')) AT TIME ZONE tz,
           (d + CASE WHEN start_at IS NULL OR end_at < start_at THEN 1 ELSE 0 END
              + coalesce(end_at, time '00:00')) AT TIME ZONE tz
$$;

-- Every function here reads only its arguments (never the session's TimeZone), hence
-- IMMUTABLE: the tz database is treated as fixed, as PostgreSQL's own timezone() does.

-- Is an assignment with this daypart inside its window at ``at``? (no daypart: always)
-- The window of the local day before counts too: that is where an overnight window's
-- after-midnight part comes from.
CREATE FUNCTION fleethub_daypart_active(
    days smallint[], start_at time, end_at time, tz text, at timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN days IS NULL AND start_at IS NULL THEN true ELSE EXISTS (
        SELECT 1
        FROM (SELECT (at AT TIME ZONE tz)::date - back AS d FROM (VALUES (0), (1)) b(back)) l
        CROSS JOIN LATERAL fleethub_daypart_window(l.d, start_at, end_at, tz) w
        WHERE (days IS NULL OR extract(isodow FROM l.d::timestamp)::smallint = ANY (days))
          AND at >= w.opens AND at < w.closes) END
$$;

-- Every window edge (opening or closing) in [from_at, until_at], in time order; none for an
-- assignment without a daypart. The plan cuts at these, the hub wakes at the next one.
CREATE FUNCTION fleethub_daypart_edges(
    days smallint[], start_at time, end_at time, tz text, from_at timestamptz,
    until_at timestamptz)
RETURNS SETOF timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 16 AS $$
    SELECT DISTINCT e.at
    FROM generate_series(((from_at AT TIME ZONE tz)::date - 1)::timestamp,
                         (until_at AT TIME ZONE tz)::date::timestamp, interval '1 day') AS g(day)
    CROSS JOIN LATERAL fleethub_daypart_window(g.day::date, start_at, end_at, tz) w
    CROSS JOIN LATERAL (VALUES (w.opens), (w.closes)) AS e(at)
    WHERE NOT (days IS NULL AND start_at IS NULL)
      AND (days IS NULL OR extract(isodow FROM g.day)::smallint = ANY (days))
      AND e.at BETWEEN from_at AND until_at
    ORDER BY e.at
$$;
