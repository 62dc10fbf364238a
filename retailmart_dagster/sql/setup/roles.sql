-- Least privilege: the pipeline role owns the analytics schema and every object in it and only reads
-- the source schemas; the reader role (analysts, the dashboard export) reads the analytics objects and
-- can change nothing; nothing in analytics is granted to PUBLIC. Both roles are NOLOGIN (login roles
-- are granted membership) and named in [security] of the configuration. Runs as the session user;
-- afterwards the session builds as the pipeline role, so no superuser is needed after this setup.
SET LOCAL ROLE NONE;
-- Login roles become members: GRANT retailmart_pipeline TO etl_login (and the reader likewise).
-- * Roles are created when missing, if the current user may (superuser or CREATEROLE); otherwise a
--   NOTICE says what is missing and the rest is skipped (the platform still runs as its login user).
-- * Pipeline role: owner of schema analytics and of every object in it (existing objects included,
--   so re-setup of an older database works), CREATE on the database (only so that the idempotent
--   CREATE SCHEMA IF NOT EXISTS of setup succeeds), USAGE and SELECT on the eight source schemas
--   (and SELECT on their future tables), nothing more. It does not own source tables: the source
--   indexes are created by the session user (see source_indexes.sql).
-- * Reader role: USAGE on analytics, SELECT on its tables, views and materialized views, EXECUTE on
--   its functions; no INSERT, UPDATE, DELETE or TRUNCATE anywhere, nothing on the source schemas.
--   A view reads the sources with its owner's (the pipeline role's) rights; a function with its
--   caller's, unless it is SECURITY DEFINER (with a fixed search_path). New objects get the same
--   privileges through ALTER DEFAULT PRIVILEGES FOR ROLE <pipeline role>.
-- * No grant to PUBLIC in analytics: EXECUTE on functions, PostgreSQL's default, is revoked (on the
--   existing functions and in the pipeline role's default privileges).
-- This step runs as the session user (SET LOCAL ROLE NONE: only for this transaction); at its end
-- the session switches to the pipeline role, so the objects built after it are owned by that role
-- (retailmart_dagster/resources/postgres.py does the same when it opens a connection).
-- Idempotent: GRANT, REVOKE and ALTER DEFAULT PRIVILEGES are; ownership changes only when needed.

-- Both keys must be configured (a missing key fails here, with the configuration's own message).
SELECT analytics.fn_config_text('security.pipeline_role') AS pipeline_role,
       analytics.fn_config_text('security.reader_role') AS reader_role;

DO $$
DECLARE
    pipeline    text := analytics.fn_config_text('security.pipeline_role');
    reader      text := analytics.fn_config_text('security.reader_role');
    source_schemas CONSTANT text[] :=
        ARRAY['core', 'customers', 'stores', 'products', 'sales', 'finance', 'hr', 'marketing'];
    may_create_roles boolean;
    missing     text[] := ARRAY[]::text[];
    role_name   text;
    src         text;
    src_owner   oid;
    obj         record;
BEGIN
    SELECT r.rolsuper OR r.rolcreaterole INTO may_create_roles
      FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user;

    FOREACH role_name IN ARRAY ARRAY[pipeline, reader] LOOP
        IF to_regrole(quote_ident(role_name)) IS NULL THEN
            IF may_create_roles THEN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            ELSE
                missing := missing || role_name;
            END IF;
        END IF;
    END LOOP;
    IF cardinality(missing) > 0 THEN
        RAISE NOTICE 'least privilege not set up: role(s) % do not exist and % may not create roles',
            array_to_string(missing, ', '), current_user
            USING HINT = 'Run the setup once as a superuser or a CREATEROLE user, or create the roles.';
        RETURN;
    END IF;

    -- The pipeline role owns the schema and everything in it.
    IF (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'analytics')
       <> to_regrole(quote_ident(pipeline)) THEN
        EXECUTE format('ALTER SCHEMA analytics OWNER TO %I', pipeline);
    END IF;
    FOR obj IN
        SELECT c.oid::regclass AS ident,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS keyword
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE n.nspname = 'analytics' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND c.relowner <> to_regrole(quote_ident(pipeline))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I', obj.keyword, obj.ident, pipeline);
    END LOOP;
    -- Sequences that no column owns (those of serial columns moved with their table above).
    FOR obj IN
        SELECT c.oid::regclass AS ident
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE n.nspname = 'analytics' AND c.relkind = 'S'
           AND c.relowner <> to_regrole(quote_ident(pipeline))
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', obj.ident, pipeline);
    END LOOP;
    FOR obj IN
        SELECT p.oid::regprocedure AS ident,
               CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END AS keyword
          FROM pg_catalog.pg_proc AS p
          JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
         WHERE n.nspname = 'analytics' AND p.proowner <> to_regrole(quote_ident(pipeline))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I', obj.keyword, obj.ident, pipeline);
    END LOOP;

    -- CREATE on the database: the setup's CREATE SCHEMA IF NOT EXISTS checks it even when the
    -- schema exists. Granted by the database owner (or a superuser).
    IF NOT has_database_privilege(pipeline, current_database(), 'CREATE') THEN
        IF pg_has_role(current_user,
                       (SELECT d.datdba FROM pg_catalog.pg_database AS d
                         WHERE d.datname = current_database()), 'USAGE') THEN
            EXECUTE format('GRANT CREATE ON DATABASE %I TO %I', current_database(), pipeline);
        ELSE
            RAISE NOTICE 'role % has no CREATE on database %: only its owner can grant it',
                pipeline, current_database();
        END IF;
    END IF;

    -- Read access to the source schemas, granted by (or as) each schema's owner.
    FOREACH src IN ARRAY source_schemas LOOP
        CONTINUE WHEN to_regnamespace(quote_ident(src)) IS NULL;
        SELECT n.nspowner INTO src_owner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = src;
        IF pg_has_role(current_user, src_owner, 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', src, pipeline);
            EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', src, pipeline);
            EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT ON TABLES TO %I',
                           src_owner::regrole::text, src, pipeline);
        ELSIF NOT has_schema_privilege(pipeline, src, 'USAGE') THEN
            RAISE NOTICE 'role % cannot read schema % and % may not grant it (owner: %)',
                pipeline, src, current_user, src_owner::regrole;
        END IF;
    END LOOP;

    -- Nothing for PUBLIC in analytics (functions are executable by PUBLIC by default).
    REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
    REVOKE ALL ON ALL TABLES IN SCHEMA analytics FROM PUBLIC;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA analytics FROM PUBLIC;
    REVOKE ALL ON ALL ROUTINES IN SCHEMA analytics FROM PUBLIC;
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I REVOKE EXECUTE ON ROUTINES FROM PUBLIC',
                   pipeline);

    -- The reader: read analytics, now and for objects created later by the pipeline role.
    EXECUTE format('GRANT USAGE ON SCHEMA analytics TO %I', reader);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO %I', reader);
    EXECUTE format('GRANT EXECUTE ON ALL ROUTINES IN SCHEMA analytics TO %I', reader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA analytics GRANT SELECT ON TABLES TO %I',
                   pipeline, reader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA analytics GRANT EXECUTE ON ROUTINES TO %I',
                   pipeline, reader);

    -- From here on the session builds as the pipeline role (when its login user is a member).
    IF session_user <> pipeline AND pg_has_role(session_user, pipeline, 'MEMBER') THEN
        BEGIN
            PERFORM set_config('role', pipeline, false);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE '% is a member of % but may not SET ROLE to it', session_user, pipeline;
        END;
    END IF;
END
$$;
