-- analytics.fn_config_numeric(key): the configured value of key as numeric.
-- Raises a clear error when the key is missing or has another type, so no KPI silently uses NULL.
CREATE OR REPLACE FUNCTION analytics.fn_config_numeric(p_key text)
RETURNS numeric
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
    IF t <> 'numeric' THEN
        RAISE EXCEPTION 'analytics.config key "%" is of type %, not numeric', p_key, t;
    END IF;
    RETURN (v #>> '{}')::numeric;
END;
$$;
