//! Table definitions shared by both backends, using only column types that
//! diesel's multi-backend connection supports.

diesel::table! {
    clients (id) {
        id -> Text,
        secret_hash -> Text,
        grant_types -> Text,
        scopes -> Text,
        enabled -> Bool,
        created -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        enabled -> Bool,
        created -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        subject -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        created -> BigInt,
        last_seen -> BigInt,
        expires -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    tokens (hash) {
        hash -> Text,
        kind -> Text,
        session_id -> Text,
        client_id -> Text,
        subject -> Text,
        scopes -> Text,
        created -> BigInt,
        expires -> BigInt,
        revoked_at -> Nullable<BigInt>,
        family_id -> Text,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key_pem -> Text,
        public_key_pem -> Text,
        created -> BigInt,
    }
}

diesel::table! {
    tickets (id) {
        id -> Text,
        summary -> Text,
        details -> Text,
        status -> Text,
        created_by -> Text,
        created -> BigInt,
    }
}

diesel::joinable!(tokens -> sessions (session_id));
diesel::joinable!(sessions -> clients (client_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    clients,
    users,
    sessions,
    tokens,
    signing_keys,
    tickets
);

diesel::table! {
    service_state (name) {
        name -> Text,
        value -> Text,
        updated -> BigInt,
    }
}
