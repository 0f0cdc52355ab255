-- Rate limits every panel process shares (store/rate_limits.py): the sign-in caps and
-- the lead form's limits (moving windows of hit times, newest first, at most the limit
-- kept), fixed-window counters, and the growing delay of one (account, address) pair
-- (failures and when it may try again). UNLOGGED: counts lost in a crash only forgive a
-- few minutes of failures; rows past expires_at are dead and deleted now and then.
-- depends: 0013_api_sessions

CREATE UNLOGGED TABLE rate_limits (
    key        text PRIMARY KEY,
    hits       double precision[] NOT NULL DEFAULT '{}',  -- epoch seconds, newest first
    counter    integer NOT NULL DEFAULT 0,
    failures   integer NOT NULL DEFAULT 0,
    not_before timestamptz,
    expires_at timestamptz NOT NULL
);
