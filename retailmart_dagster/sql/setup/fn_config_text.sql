-- analytics.fn_config_text(key): the configured value of key as text.
-- Raises a clear error when the key is missing or has another type, so no KPI silently uses NULL.
CREATE OR REPLACE FUNCTION analytics.fn_config_text(p_key text)
RETURNS text
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
    IF t <> 'text' THEN
        RAISE EXCEPTION 'analytics.config key "%" is of type %, not text', p_key, t;
    END IF;
    RETURN v #>> '{}';
END;
$$;
