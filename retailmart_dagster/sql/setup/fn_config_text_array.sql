-- analytics.fn_config_text_array(key): the configured list of strings of key as text[].
-- Raises a clear error when the key is missing or is not a list of strings.
CREATE OR REPLACE FUNCTION analytics.fn_config_text_array(p_key text)
RETURNS text[]
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
    IF t <> 'text_array' THEN
        RAISE EXCEPTION 'analytics.config key "%" is of type %, not text_array', p_key, t;
    END IF;
    RETURN ARRAY(SELECT jsonb_array_elements_text(v));
END;
$$;
