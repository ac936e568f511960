//! Every setting of `snowstream serve`, declared once: flag, environment variable, TOML key,
//! default (the text a flag would carry, or `Lib(…)`: the default the library declares for
//! itself, in `server::defaults` or `landing::defaults`) and help text (see [`settings!`](super::layer)). `[NiFi …]` names the analogue
//! property of a NiFi processor. The README's settings table lists the same.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::layer::settings;
use super::value::{ClientAuth, Dur, Format, HttpProtocols, Lib, List, LogFormat, SinkKind, Size};

settings! {
    /// The ListenHTTP-compatible HTTP receiver.
    pub struct ListenerArgs => Listener {
        /// Address to listen on. [NiFi ListenHTTP: Listening Port]
        #[arg(long, env = "SNOWSTREAM_LISTEN")]
        listen: SocketAddr = "0.0.0.0:8080",
        /// Path prefix of the receiver; `/` serves it at the root (records at `/` and `/STREAM`). [NiFi ListenHTTP: Base Path]
        #[arg(long, env = "SNOWSTREAM_BASE_PATH")]
        base_path: String = server::defaults::BASE_PATH,
        /// Status code for accepted requests. [NiFi ListenHTTP: Return Code]
        #[arg(long, env = "SNOWSTREAM_SUCCESS_CODE")]
        success_code: u16 = Lib(server::defaults::SUCCESS_CODE),
        /// Request headers whose names match become FlowFile attributes in landed metadata. [NiFi ListenHTTP: HTTP Headers to receive as Attributes (Regex)]
        #[arg(long, env = "SNOWSTREAM_HEADERS_AS_ATTRIBUTES")]
        headers_as_attributes: String,
        /// Largest request body after decompression, and most its records may expand to once landed, FlowFile attributes repeated on every line (413 above).
        #[arg(long, env = "SNOWSTREAM_MAX_REQUEST_SIZE")]
        max_request_size: Size = Lib(Size(server::defaults::MAX_REQUEST_BYTES)),
        /// Drop a two-phase hold not confirmed within this. [NiFi ListenHTTP: Max Unconfirmed Flowfile Time]
        #[arg(long, env = "SNOWSTREAM_HOLD_TIMEOUT")]
        hold_timeout: Dur = Lib(Dur(server::defaults::HOLD_TIMEOUT)),
        /// Require `Authorization: Bearer TOKEN` on ingest requests.
        #[arg(long, env = "SNOWSTREAM_AUTH_TOKEN", hide_env_values = true)]
        auth_token: String,
        /// Read the bearer token from this file (its first line) instead, so it never shows in `ps` or the environment.
        #[arg(long, env = "SNOWSTREAM_AUTH_TOKEN_FILE")]
        auth_token_file: PathBuf,
        /// PEM certificate chain: serve HTTPS (with --tls-key). [NiFi ListenHTTP: SSL Context Service]
        #[arg(long, env = "SNOWSTREAM_TLS_CERT")]
        tls_cert: PathBuf,
        /// PEM private key for --tls-cert.
        #[arg(long, env = "SNOWSTREAM_TLS_KEY")]
        tls_key: PathBuf,
        /// HTTP versions HTTPS offers in ALPN: `http/1.1` (as ListenHTTP by default), `h2 http/1.1` or `h2`. Under HTTP/2 header names arrive lowercase, and so do the attributes --headers-as-attributes makes of them. [NiFi ListenHTTP: HTTP Protocols]
        #[arg(long, env = "SNOWSTREAM_HTTP_PROTOCOLS")]
        http_protocols: HttpProtocols = "http/1.1",
        /// Also answer the health check (only) on this address, e.g. 0.0.0.0:8081. [NiFi ListenHTTP: Listening Port for health check requests; default: off]
        #[arg(long, env = "SNOWSTREAM_HEALTH_CHECK_LISTEN")]
        health_check_listen: SocketAddr,
        /// Close a connection (HTTP receiver and S3 API) whose request headers are not complete this long after it opened or after its previous request (a stalled or idle client).
        #[arg(long, env = "SNOWSTREAM_HEADER_READ_TIMEOUT")]
        header_read_timeout: Dur = Lib(Dur(server::defaults::HEADER_READ_TIMEOUT)),
        /// Most connections open at once on each listener (HTTP receiver, S3 API); more are closed at once.
        #[arg(long, env = "SNOWSTREAM_MAX_CONNECTIONS")]
        max_connections: u64 = Lib(server::defaults::MAX_CONNECTIONS),
        /// Fail a request (HTTP receiver and S3 API) whose body sends nothing for this long (a stalled client); nothing of it is kept.
        #[arg(long, env = "SNOWSTREAM_BODY_READ_TIMEOUT")]
        body_read_timeout: Dur = Lib(Dur(server::defaults::BODY_READ_TIMEOUT)),
        /// HTTP Basic users, one `user:password` a line (`#` comments), for NiFi PostHTTP's Username/Password; challenged with 401 `WWW-Authenticate: Basic`. Either this or the bearer token is enough. [NiFi PostHTTP: Username, Password]
        #[arg(long, env = "SNOWSTREAM_BASIC_AUTH_FILE")]
        basic_auth_file: PathBuf,
        /// PEM CA bundle: require client certificates signed by it (mutual TLS, with --tls-cert). [NiFi ListenHTTP: SSL Context Service with Client Authentication Required]
        #[arg(long, env = "SNOWSTREAM_TLS_CLIENT_CA")]
        tls_client_ca: PathBuf,
        /// Client certificates: `AUTO` (REQUIRED with --tls-client-ca, else NONE), `REQUIRED`, `WANT` (asked for; a client without one goes on to the bearer token or Basic, so NiFi nodes with certificates and other clients with tokens can share the port) or `NONE`. [NiFi ListenHTTP: Client Authentication]
        #[arg(long, env = "SNOWSTREAM_CLIENT_AUTHENTICATION")]
        client_authentication: ClientAuth = "AUTO",
        /// Regex the whole subject DN of a client certificate must match (403 otherwise), e.g. `CN=nifi-.*, O=Example`. [NiFi ListenHTTP: Authorized Subject DN Pattern]
        #[arg(long, env = "SNOWSTREAM_AUTHORIZED_DN_PATTERN")]
        authorized_dn_pattern: String = ".*",
        /// Regex the whole issuer DN of a client certificate must match once its subject DN did (403 otherwise), e.g. `CN=Ingest CA, O=Example`. [NiFi ListenHTTP: Authorized Issuer DN Pattern]
        #[arg(long, env = "SNOWSTREAM_AUTHORIZED_ISSUER_DN_PATTERN")]
        authorized_issuer_dn_pattern: String = ".*",
        /// Most FlowFiles in one request (413 above); the default fits a NiFi PostHTTP batch (100 MB) of FlowFiles of 525 bytes or more.
        #[arg(long, env = "SNOWSTREAM_MAX_FLOWFILES_PER_REQUEST")]
        max_flowfiles_per_request: u64 = Lib(server::defaults::MAX_FLOWFILES_PER_REQUEST),
        /// Most bytes of attribute keys plus values per FlowFile, headers kept as attributes included (413 above).
        #[arg(long, env = "SNOWSTREAM_MAX_ATTRIBUTE_BYTES")]
        max_attribute_bytes: Size = Lib(Size(server::defaults::MAX_ATTRIBUTE_BYTES)),
        /// Request headers never kept as attributes, even when --headers-as-attributes matches them (credentials), comma-separated; replaces the default list (Authorization is always dropped).
        #[arg(long, env = "SNOWSTREAM_HEADER_DENY_LIST")]
        header_deny_list: List = Lib(List::from(server::defaults::HEADER_DENY_LIST)),
        /// Require the bearer token of --auth-token (or --auth-token-file) on GET /metrics too.
        #[arg(long, env = "SNOWSTREAM_METRICS_AUTH")]
        metrics_auth: bool = "false",
        /// Require `Authorization: Bearer TOKEN` on GET /metrics, the token read from this file (its first line); a scraper needs no ingest token.
        #[arg(long, env = "SNOWSTREAM_METRICS_TOKEN_FILE")]
        metrics_token_file: PathBuf,
        /// Most two-phase holds (PostHTTP's unconfirmed FlowFiles) awaiting their DELETE at once (503 above).
        #[arg(long, env = "SNOWSTREAM_MAX_HOLDS")]
        max_holds: u64 = Lib(server::defaults::MAX_HOLDS),
        /// Most memory the held batches may take, counted as allocated (503 above).
        #[arg(long, env = "SNOWSTREAM_MAX_HOLD_SIZE")]
        max_hold_size: Size = Lib(Size(server::defaults::MAX_HOLD_BYTES)),
        /// Most request bodies (after decompression) held in memory at once, HTTP receiver and S3 API together (a request whose records go to the spool in parts counts ~4 MiB whatever its size); past it a request waits briefly, then gets 503 with Retry-After.
        #[arg(long, env = "SNOWSTREAM_MAX_INFLIGHT_BODY_SIZE")]
        max_inflight_body_size: Size = Lib(Size(server::defaults::BODY_BUDGET_BYTES)),
        /// How long a client is told to wait (`Retry-After`, whole seconds; S3 API: SlowDown) when a request is refused for now: spool full, a disk fault, a pass-through put with the sink down. PostHTTP and InvokeHTTP retry on their own schedule; boto3 and the AWS SDKs back off.
        #[arg(long, env = "SNOWSTREAM_RETRY_AFTER")]
        retry_after: Dur = Lib(Dur(server::defaults::RETRY_AFTER)),
    }
}

settings! {
    /// The spool, the streams it holds and the process around it.
    pub struct SpoolArgs => Spool {
        /// Data directory: spool in DATA_DIR/spool, local landing in DATA_DIR/landing, S3 API uploads in DATA_DIR/s3-uploads.
        #[arg(long, env = "SNOWSTREAM_DATA_DIR")]
        data_dir: PathBuf = "data",
        /// Unique id of this instance, part of every landed file name. Two instances must never share one: the default cannot collide (the host name plus a random tag made once and kept in DATA_DIR/instance-id). [default: HOST-TAG]
        #[arg(long, env = "SNOWSTREAM_INSTANCE_ID")]
        instance_id: String,
        /// Refuse new records with 503 while this much waits in the spool.
        #[arg(long, env = "SNOWSTREAM_SPOOL_MAX_BYTES")]
        spool_max_bytes: Size = Lib(Size(landing::defaults::SPOOL_MAX_BYTES)),
        /// Stream for requests that name none (path or x-snowstream-stream header).
        #[arg(long, env = "SNOWSTREAM_DEFAULT_STREAM")]
        default_stream: String = server::defaults::STREAM,
        /// More streams to accept, comma-separated, with the top-level stream settings (or give them `[[streams]]` tables in the TOML file).
        #[arg(long, env = "SNOWSTREAM_STREAMS")]
        streams: List,
        /// On SIGTERM, wait at most this long for the spool to land before exiting (the rest lands on next start).
        #[arg(long, env = "SNOWSTREAM_SHUTDOWN_TIMEOUT")]
        shutdown_timeout: Dur = "30s",
        /// Log format: text or json.
        #[arg(long, env = "SNOWSTREAM_LOG_FORMAT")]
        log_format: LogFormat = "text",
        /// POST a Slack/Teams-compatible JSON alert (`{"text": ...}`) here when a stream goes stale and when it recovers (see --stale-after). [default: off]
        #[arg(long, env = "SNOWSTREAM_ALERT_WEBHOOK")]
        alert_webhook: String,
    }
}

settings! {
    /// Where landed files go.
    pub struct SinkArgs => Sink {
        /// Where files land: local (a folder) or s3.
        #[arg(long, env = "SNOWSTREAM_SINK")]
        sink: SinkKind = "local",
        /// Folder for --sink local. [default: DATA_DIR/landing]
        #[arg(long, env = "SNOWSTREAM_LANDING_DIR")]
        landing_dir: PathBuf,
        /// S3 bucket for --sink s3. [NiFi PutS3Object: Bucket]
        #[arg(long, env = "SNOWSTREAM_S3_BUCKET")]
        s3_bucket: String,
        /// Key prefix inside the bucket: the same setting as --prefix, under its S3 name.
        #[arg(long, env = "SNOWSTREAM_S3_PREFIX")]
        s3_prefix: String,
        /// S3-compatible endpoint (MinIO, LocalStack); implies path-style. [NiFi PutS3Object: Endpoint Override URL]
        #[arg(long, env = "SNOWSTREAM_S3_ENDPOINT_URL")]
        s3_endpoint_url: String,
        /// AWS region. [NiFi PutS3Object: Region; default: from the AWS chain]
        #[arg(long, env = "SNOWSTREAM_S3_REGION")]
        s3_region: String,
    }
}

settings! {
    /// Everything a stream has. At the top level (flags, env, TOML keys) these are every
    /// stream's defaults; a `[[streams]]` table sets them for one stream.
    pub struct StreamArgs => Stream {
        /// Key prefix of landed files (both sinks), e.g. `raw`.
        #[arg(long, env = "SNOWSTREAM_PREFIX")]
        prefix: String,
        /// Record format when neither content type nor file extension says: json, ndjson or csv. (In a `[[streams]]` table: `format`.)
        #[arg(long = "default-format", env = "SNOWSTREAM_DEFAULT_FORMAT")]
        #[serde(alias = "default_format")]
        format: Format = Lib(server::defaults::FORMAT),
        /// Land each S3 API object and each HTTP FlowFile whole under its own key (with an attributes sidecar for FlowFiles) instead of parsing records.
        #[arg(long, env = "SNOWSTREAM_PASS_THROUGH")]
        pass_through: bool = "false",
        /// When to acknowledge: durable (fsync'd spool), landed (file in the sink), received (no fsync).
        #[arg(long, env = "SNOWSTREAM_ACK")]
        ack: landing::AckMode = Lib(landing::AckMode::default()),
        /// A FlowFile whose content does not parse: reject (400 for the whole request) or dead-letter (it lands whole under the stream's dead-letter prefix with its reason; the rest are accepted).
        #[arg(long, env = "SNOWSTREAM_ON_PARSE_ERROR")]
        on_parse_error: server::OnParseError = Lib(server::OnParseError::default()),
        /// Landed file compression: zstd[:level] or gzip[:level]; `zstd` alone is level 1 (`landing::defaults::ZSTD_LEVEL`: fast, ~8x on landed NDJSON; zstd:3 makes files ~20% smaller for ~2.5x the CPU).
        #[arg(long, env = "SNOWSTREAM_COMPRESSION")]
        compression: landing::Compression = Lib(landing::Compression::default()),
        /// Close a batch file at this many uncompressed bytes.
        #[arg(long, env = "SNOWSTREAM_BATCH_MAX_BYTES")]
        batch_max_bytes: Size = Lib(Size(landing::defaults::BATCH_MAX_BYTES)),
        /// Close a batch file at this many records.
        #[arg(long, env = "SNOWSTREAM_BATCH_MAX_RECORDS")]
        batch_max_records: u64 = Lib(landing::defaults::BATCH_MAX_RECORDS),
        /// Close a batch file this long after it opened.
        #[arg(long, env = "SNOWSTREAM_BATCH_MAX_AGE")]
        batch_max_age: Dur = Lib(Dur(landing::defaults::BATCH_MAX_AGE)),
        /// Notify this Snowpipe (DB.SCHEMA.PIPE, case-sensitive) of each landed file. At the top level: the default stream's pipe only.
        #[arg(long, env = "SNOWSTREAM_SNOWPIPE_PIPE")]
        snowpipe_pipe: String,
        /// Key prefix of the pipe's COPY location (its stage URL plus the path after `FROM @stage/`), removed from landed keys in insertFiles: the REST API takes paths relative to it. [default: PREFIX/STREAM, where the rendered pipe reads]
        #[arg(long, env = "SNOWSTREAM_SNOWPIPE_STRIP_PREFIX")]
        snowpipe_strip_prefix: String,
        /// Call the stream stale (gauge, WARN log, webhook) when no file has landed for this long, e.g. 15m. [default: off]
        #[arg(long, env = "SNOWSTREAM_STALE_AFTER")]
        stale_after: Dur,
        /// Form of each landed line: meta (`{"record":…,"meta":{stream,instance,seq,received_at,attributes}}`) or record (the record alone, no FlowFile attributes; lineage from the file name). The table spec's `envelope` must match.
        #[arg(long, env = "SNOWSTREAM_ENVELOPE")]
        envelope: records::landed::Envelope = Lib(records::landed::Envelope::default()),
        /// Segments of a stream between the start of their encode and the end of their landing: the next ones compress on the blocking pool while one is put (1 = encode and put one after the other; 0 = one per core plus one). Each holds its staged file (a temp file in the landing folder, or an open S3 upload with at most one part in memory) until it is committed.
        #[arg(long, env = "SNOWSTREAM_ENCODE_CONCURRENCY")]
        encode_concurrency: u64 = Lib(landing::defaults::ENCODE_CONCURRENCY),
    }
}

settings! {
    /// The Snowflake account the Snowpipe notifier signs in to, shared by every stream's pipe.
    pub struct SnowpipeArgs => Snowpipe {
        /// Snowflake account identifier (e.g. myorg-myaccount or myorg.myaccount, or the locator xy12345.eu-central-1): notify Snowpipe after each landed file. The JWT and the URL take it as Snowflake documents (the period of an organization name becomes a hyphen; a locator keeps its region in the URL only).
        #[arg(long, env = "SNOWSTREAM_SNOWPIPE_ACCOUNT")]
        snowpipe_account: String,
        /// Snowflake user whose RSA_PUBLIC_KEY matches --snowpipe-private-key.
        #[arg(long, env = "SNOWSTREAM_SNOWPIPE_USER")]
        snowpipe_user: String,
        /// Unencrypted RSA private key PEM (PKCS#8 or PKCS#1) for key-pair authentication.
        #[arg(long, env = "SNOWSTREAM_SNOWPIPE_PRIVATE_KEY")]
        snowpipe_private_key: PathBuf,
        /// Base URL of the REST API. [default: https://ACCOUNT.snowflakecomputing.com]
        #[arg(long, env = "SNOWSTREAM_SNOWPIPE_URL")]
        snowpipe_url: String,
    }
}

settings! {
    /// The S3 API front door (the `[s3_api]` table of the TOML file). Off unless an address is
    /// given. Buckets map to streams; credentials are access key → secret pairs.
    pub struct S3ApiArgs => S3Api {
        /// Also serve the S3 API (path-style, SigV4) on this address, e.g. 0.0.0.0:9000. [default: off; NiFi PutS3Object: Endpoint Override URL]
        #[arg(long, env = "SNOWSTREAM_S3_LISTEN")]
        #[serde(rename = "listen")]
        s3_listen: SocketAddr,
        /// S3 API credentials, comma-separated ACCESS_KEY:SECRET_KEY[:bucket1|bucket2] (no buckets: all). [NiFi PutS3Object: Access Key ID / Secret Access Key]
        #[arg(long, env = "SNOWSTREAM_S3_CREDENTIALS", hide_env_values = true)]
        #[serde(rename = "credentials")]
        s3_credentials: List,
        /// Buckets of the S3 API, comma-separated BUCKET[/KEY_PREFIX]=STREAM. [default: one bucket per stream, named like it; NiFi PutS3Object: Bucket]
        #[arg(long, env = "SNOWSTREAM_S3_BUCKETS")]
        #[serde(rename = "buckets")]
        s3_buckets: List,
        /// Region the S3 API reports for its buckets (clients may sign with any).
        #[arg(long, env = "SNOWSTREAM_S3_LISTEN_REGION")]
        #[serde(rename = "region")]
        s3_listen_region: String = server::defaults::S3_REGION,
        /// Remove incomplete multipart uploads this old, freeing their parts' space (an S3 lifecycle's AbortIncompleteMultipartUpload).
        #[arg(long, env = "SNOWSTREAM_S3_UPLOAD_MAX_AGE")]
        #[serde(rename = "upload_max_age")]
        s3_upload_max_age: Dur = Lib(Dur(server::defaults::S3_UPLOAD_MAX_AGE)),
        /// Most multipart uploads in progress at once (SlowDown above); their parts count against --spool-max-bytes with the spool.
        #[arg(long, env = "SNOWSTREAM_S3_MAX_OPEN_UPLOADS")]
        #[serde(rename = "max_open_uploads")]
        s3_max_open_uploads: u64 = Lib(server::defaults::S3_MAX_OPEN_UPLOADS),
        /// PEM certificate chain: serve the S3 API over HTTPS (with --s3-api-tls-key).
        #[arg(long, env = "SNOWSTREAM_S3_API_TLS_CERT")]
        #[serde(rename = "tls_cert")]
        s3_api_tls_cert: PathBuf,
        /// PEM private key for --s3-api-tls-cert.
        #[arg(long, env = "SNOWSTREAM_S3_API_TLS_KEY")]
        #[serde(rename = "tls_key")]
        s3_api_tls_key: PathBuf,
    }
}
