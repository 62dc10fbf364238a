-- analytics.fn_config_int(key): the configured value of key as int.
-- Raises a clear error when the key is missing or has another type, so no KPI silently uses NULL.
CREATE OR REPLACE FUNCTION analytics.fn_config_int(p_key text)
RETURNS int
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v jsonb;
    t text;
BEGIN
    SELECT c.value, c.value_type INTO v, t FROM analytics.config AS c WHERE c.key = p_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'analytics.config has no key "%"', p_key
            USING HINT = 'Add it to retailmart_dagster/config/analytics.toml and re-materialize the config asset.';
    END IF;
    IF t <> 'int' THEN
        RAISE EXCEPTION 'analytics.config key "%" is of type %, not int', p_key, t;
    END IF;
    RETURN (v #>> '{}')::int;
END;
$$;
