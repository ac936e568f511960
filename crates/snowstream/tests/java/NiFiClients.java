// NiFi's own HTTP client libraries, driven the way NiFi's processors drive them, against a
// snowstream receiver: Apache HttpClient 4.5 as PostHTTP (nifi-standard-processors,
// PostHTTP.java at rel/nifi-1.28.1, onTrigger) and OkHttp as InvokeHTTP (InvokeHTTP.java at
// rel/nifi-2.11.0). Run by crates/snowstream/tests/it/nifi/java_clients.rs, which checks that
// every record it sends lands exactly once.
//
//   java NiFiClients posthttp URL USER PASSWORD PREFIX TRANSFERS BYTES GZIP HOLDS
//   java NiFiClients invokehttp URL TOKEN PREFIX BYTES CHUNKED
//   java NiFiClients keystores CERT_PEM KEY_PEM CA_PEM DIR PASSWORD
//
// Each record is {"id":"PREFIX-T-N"}; the last line of stdout is "sent RECORDS". An empty USER
// or TOKEN sends no credentials. With NIFI_KEYSTORE, NIFI_TRUSTSTORE and NIFI_STORE_PASSWORD
// set (PKCS12 files, as `keystores` writes them), both clients speak TLS with that client
// certificate, as an SSL Context Service makes them.

import java.io.BufferedOutputStream;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.zip.GZIPOutputStream;

import org.apache.http.Header;
import org.apache.http.HttpResponse;
import org.apache.http.auth.AuthScope;
import org.apache.http.auth.UsernamePasswordCredentials;
import org.apache.http.client.CredentialsProvider;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.HttpDelete;
import org.apache.http.client.methods.HttpHead;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.client.protocol.HttpClientContext;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.socket.PlainConnectionSocketFactory;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.apache.http.entity.EntityTemplate;
import org.apache.http.impl.client.BasicCredentialsProvider;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClientBuilder;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;
import org.apache.http.util.EntityUtils;

import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;

public final class NiFiClients {
    public static void main(String[] args) throws Exception {
        long sent;
        switch (args[0]) {
            case "posthttp":
                sent = postHttp(args[1], args[2], args[3], args[4], Integer.parseInt(args[5]),
                        Integer.parseInt(args[6]), Boolean.parseBoolean(args[7]), Boolean.parseBoolean(args[8]));
                break;
            case "invokehttp":
                sent = invokeHttp(args[1], args[2], args[3], Integer.parseInt(args[4]), Boolean.parseBoolean(args[5]));
                break;
            case "keystores":
                keystores(args[1], args[2], args[3], args[4], args[5].toCharArray());
                sent = 0;
                break;
            default:
                throw new IllegalArgumentException("unknown scenario " + args[0]);
        }
        System.out.println("sent " + sent);
    }

    /** NDJSON records {"id":"PREFIX-N"} padded to about `bytes` bytes in all. */
    static byte[] records(String prefix, int bytes, long[] count) {
        StringBuilder b = new StringBuilder();
        String pad = "p".repeat(100);
        long n = 0;
        while (b.length() < bytes) {
            b.append("{\"id\":\"").append(prefix).append('-').append(n).append("\",\"pad\":\"").append(pad).append("\"}\n");
            n++;
        }
        count[0] = n;
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** One FlowFile in the v3 package format (FlowFilePackagerV3: magic, attributes, content). */
    static void packageV3(OutputStream out, Map<String, String> attributes, byte[] content) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.write("NiFiFF3".getBytes(StandardCharsets.US_ASCII));
        fieldLength(d, attributes.size());
        for (Map.Entry<String, String> e : attributes.entrySet()) {
            field(d, e.getKey());
            field(d, e.getValue());
        }
        d.writeLong(content.length);
        d.write(content);
        d.flush();
    }

    static void field(DataOutputStream d, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        fieldLength(d, b.length);
        d.write(b);
    }

    /** Two bytes, or 0xFFFF and four bytes from 65535 up (FlowFilePackagerV3.writeFieldLength). */
    static void fieldLength(DataOutputStream d, int n) throws IOException {
        if (n < 0xFFFF) {
            d.writeShort(n);
        } else {
            d.writeShort(0xFFFF);
            d.writeInt(n);
        }
    }

    /**
     * PostHTTP with Send as FlowFile, per onTrigger: redirects off in the RequestConfig; a new
     * client per trigger on the connection pool kept per base URL (getConfig), automatic
     * retries and content compression off, credentials in a BasicCredentialsProvider (lines
     * 458-467); a new HttpClientContext per transfer, so no auth cache carries over (line 524)
     * and each POST goes out without credentials, reads the 401 and is sent again with Basic;
     * the HEAD probe's answer cached per base URL (lines 532, 861-925); the package written by
     * an EntityTemplate through a BufferedOutputStream (repeatable, so HttpClient can resend
     * it), chunked (lines 640-651), gzip'd with flowfile-gzipped (lines 691-701); a 303 hold
     * confirmed with DELETE (lines 738-826). Any status but 200 (or 303 then 200) fails.
     */
    static long postHttp(String url, String user, String password, String prefix, int transfers, int bytes,
            boolean gzip, boolean holds) throws Exception {
        CredentialsProvider creds = new BasicCredentialsProvider();
        if (!user.isEmpty()) {
            creds.setCredentials(AuthScope.ANY, new UsernamePasswordCredentials(user, password));
        }
        // Lines 372-392: with an SSL Context Service, its SSLContext behind an
        // SSLConnectionSocketFactory registered for https.
        Tls tls = Tls.fromEnvironment();
        PoolingHttpClientConnectionManager pool = tls == null ? new PoolingHttpClientConnectionManager()
                : new PoolingHttpClientConnectionManager(RegistryBuilder.<ConnectionSocketFactory>create()
                        .register("https", new SSLConnectionSocketFactory(tls.context))
                        .register("http", PlainConnectionSocketFactory.getSocketFactory())
                        .build());
        RequestConfig config = RequestConfig.custom().setRedirectsEnabled(false).build();
        long total = 0;
        Map<String, Boolean> acceptsFlowFileV3 = new HashMap<>();
        {
            for (int t = 0; t < transfers; t++) {
                CloseableHttpClient client = HttpClientBuilder.create().setConnectionManager(pool)
                        .setConnectionManagerShared(true).disableAutomaticRetries().disableContentCompression()
                        .setDefaultCredentialsProvider(creds).build();
                HttpClientContext context = HttpClientContext.create();
                String txn = UUID.randomUUID().toString();
                if (!acceptsFlowFileV3.containsKey(url)) {
                    HttpHead head = new HttpHead(url);
                    head.setConfig(config);
                    head.addHeader("x-nifi-transaction-id", txn);
                    HttpResponse r = client.execute(head, context);
                    EntityUtils.consume(r.getEntity());
                    Header accept = r.getFirstHeader("Accept");
                    check(r.getStatusLine().getStatusCode() == 200, "HEAD " + r.getStatusLine());
                    acceptsFlowFileV3.put(url, accept != null && accept.getValue().contains("application/flowfile-v3"));
                }
                check(acceptsFlowFileV3.get(url), "the receiver does not accept FlowFile v3");
                long[] count = new long[1];
                byte[] content = records(prefix + "-" + t, bytes, count);
                Map<String, String> attrs = new LinkedHashMap<>();
                attrs.put("filename", prefix + "-" + t + ".ndjson");
                attrs.put("mime.type", "application/x-ndjson");
                attrs.put("uuid", UUID.randomUUID().toString());
                EntityTemplate entity = new EntityTemplate(rawOut -> {
                    OutputStream out = new BufferedOutputStream(rawOut);
                    if (gzip) {
                        out = new GZIPOutputStream(out);
                    }
                    try (OutputStream o = out) {
                        packageV3(o, attrs, content);
                        o.flush();
                    }
                });
                entity.setChunked(true);
                HttpPost post = new HttpPost(url);
                post.setConfig(config);
                post.setEntity(entity);
                post.setHeader("Content-Type", "application/flowfile-v3");
                if (holds) {
                    post.setHeader("x-prefer-acknowledge-uri", "true");
                }
                post.setHeader("x-nifi-transfer-protocol-version", "3");
                post.setHeader("x-nifi-transaction-id", txn);
                if (gzip) {
                    post.setHeader("flowfile-gzipped", "true");
                }
                HttpResponse r = client.execute(post, context);
                int status = r.getStatusLine().getStatusCode();
                Header location = r.getFirstHeader("Location");
                String body = EntityUtils.toString(r.getEntity());
                if (holds && status == 303) {
                    String hold = location.getValue();
                    // Lines 790-813: a Location under /contentListener is appended to the URL posted to.
                    String holdUri = hold.startsWith("/contentListener")
                            ? url + hold.substring("/contentListener".length())
                            : URI.create(url).resolve(hold).toString();
                    HttpDelete delete = new HttpDelete(holdUri);
                    delete.setConfig(config);
                    delete.addHeader("x-nifi-transaction-id", txn);
                    HttpResponse d = client.execute(delete, context);
                    EntityUtils.consume(d.getEntity());
                    check(d.getStatusLine().getStatusCode() < 300, "DELETE " + holdUri + ": " + d.getStatusLine());
                } else {
                    check(status == 200, "POST transfer " + t + ": " + r.getStatusLine() + " " + body);
                }
                total += count[0];
            }
        }
        pool.shutdown();
        return total;
    }

    /**
     * InvokeHTTP POST: Content-Type from the Request Content-Type property (line 1094), the
     * sensitive dynamic property `Authorization: Bearer …` as a header (lines 1163-1201); the
     * body fixed-length, or streamed with unknown length (chunked), as OkHttp sends a
     * FlowFile's content. 2xx is success.
     */
    static long invokeHttp(String url, String token, String prefix, int bytes, boolean chunked) throws Exception {
        long[] count = new long[1];
        byte[] content = records(prefix, bytes, count);
        MediaType type = MediaType.get("application/x-ndjson");
        RequestBody body = chunked ? new RequestBody() {
            @Override
            public MediaType contentType() {
                return type;
            }

            @Override
            public long contentLength() {
                return -1;
            }

            @Override
            public void writeTo(BufferedSink sink) throws IOException {
                for (int i = 0; i < content.length; i += 8192) {
                    sink.write(content, i, Math.min(8192, content.length - i));
                }
            }
        } : RequestBody.create(type, content);
        OkHttpClient.Builder builder = new OkHttpClient.Builder();
        Tls tls = Tls.fromEnvironment();
        if (tls != null) {
            // InvokeHTTP.java (rel/nifi-2.11.0) lines 795-800: the provider's SSLContext's socket
            // factory and its trust manager.
            builder.sslSocketFactory(tls.context.getSocketFactory(), tls.trustManager);
        }
        OkHttpClient client = builder.build();
        Request.Builder request = new Request.Builder().url(url).post(body)
                .header("User-Agent", "Apache NiFi InvokeHTTP");
        if (!token.isEmpty()) {
            request.header("Authorization", "Bearer " + token);
        }
        try (Response r = client.newCall(request.build()).execute()) {
            String text = r.body() == null ? "" : r.body().string();
            check(r.isSuccessful(), "InvokeHTTP POST: " + r.code() + " " + text);
        }
        client.dispatcher().executorService().shutdown();
        client.connectionPool().evictAll();
        return count[0];
    }

    /**
     * PKCS12 keystore (the client's key and certificate) and truststore (the CA) from PEM files,
     * the files a NiFi SSL Context Service is given (keytool or openssl would make the same).
     */
    static void keystores(String certPem, String keyPem, String caPem, String dir, char[] password) throws Exception {
        CertificateFactory x509 = CertificateFactory.getInstance("X.509");
        Certificate cert;
        Certificate ca;
        try (InputStream in = new FileInputStream(certPem)) {
            cert = x509.generateCertificate(in);
        }
        try (InputStream in = new FileInputStream(caPem)) {
            ca = x509.generateCertificate(in);
        }
        String pem = Files.readString(Path.of(keyPem));
        byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        PrivateKey key;
        try {
            key = KeyFactory.getInstance("EC").generatePrivate(spec);
        } catch (java.security.spec.InvalidKeySpecException notEc) {
            key = KeyFactory.getInstance("RSA").generatePrivate(spec);
        }
        KeyStore keystore = KeyStore.getInstance("PKCS12");
        keystore.load(null, null);
        keystore.setKeyEntry("nifi", key, password, new Certificate[] {cert});
        try (OutputStream out = new FileOutputStream(Path.of(dir, "keystore.p12").toFile())) {
            keystore.store(out, password);
        }
        KeyStore truststore = KeyStore.getInstance("PKCS12");
        truststore.load(null, null);
        truststore.setCertificateEntry("ca", ca);
        try (OutputStream out = new FileOutputStream(Path.of(dir, "truststore.p12").toFile())) {
            truststore.store(out, password);
        }
    }

    /**
     * An SSLContext as NiFi's StandardSSLContextService makes one (rel/nifi-1.28.1
     * nifi-security-utils SslContextFactory + KeyStoreUtils): keystore and truststore files
     * loaded by type, key managers and trust managers from the default algorithm's factories.
     */
    static final class Tls {
        final SSLContext context;
        final X509TrustManager trustManager;

        private Tls(SSLContext context, X509TrustManager trustManager) {
            this.context = context;
            this.trustManager = trustManager;
        }

        static Tls fromEnvironment() throws Exception {
            String keystore = System.getenv("NIFI_KEYSTORE");
            if (keystore == null) {
                return null;
            }
            char[] password = System.getenv("NIFI_STORE_PASSWORD").toCharArray();
            KeyStore keys = load(keystore, password);
            KeyStore trust = load(System.getenv("NIFI_TRUSTSTORE"), password);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return new Tls(context, (X509TrustManager) tmf.getTrustManagers()[0]);
        }

        private static KeyStore load(String path, char[] password) throws Exception {
            KeyStore store = KeyStore.getInstance("PKCS12");
            try (InputStream in = new FileInputStream(path)) {
                store.load(in, password);
            }
            return store;
        }
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException(what);
        }
    }
}
