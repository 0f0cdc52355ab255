-- The map (issue 11): each tablet's last reported position. The hub's writer keeps it with
-- the tablet's state row: a heartbeat with lat/lon moves it, one without keeps the last.
-- depends: 0015_user_links

ALTER TABLE tablet_state
    ADD COLUMN lat double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon double precision CHECK (lon BETWEEN -180 AND 180),
    ADD COLUMN position_at timestamptz,
    ADD CONSTRAINT tablet_state_position_whole CHECK ((lat IS NULL) = (lon IS NULL));
