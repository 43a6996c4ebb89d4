// Sends one example event to the eventward notification {{workspace}}/{{notification}} with java.net.http.
// Run: {{env_var}}=... java Sample.java   (Java 11+, a single file, no libraries)
// {{credential_note}}
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Sample {
    static final String ENDPOINT = "{{url}}";
    static final String ENV_VAR = "{{env_var}}";

    public static void main(String[] args) {
        System.exit(run());
    }

    static int run() {
        String credential = System.getenv(ENV_VAR);
        if (credential == null || credential.isEmpty()) {
            System.err.println("error: set " + ENV_VAR + " to {{credential_kind}}");
            return 2;
        }

        String event = "{\"example\": true, \"sent_by\": \"java sample\"}";
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1) // no h2c upgrade attempt on plain http://
                .connectTimeout(Duration.ofSeconds(10))
                .build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(ENDPOINT))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + credential)
                .POST(HttpRequest.BodyPublishers.ofString(event))
                .build();

        HttpResponse<String> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException | InterruptedException e) {
            System.err.println("error: request to " + ENDPOINT + " failed: " + e);
            return 1;
        }

        // 202: {"id", "status"}; refusals: application/problem+json {title, status, detail, code}.
        String body = response.body();
        int status = response.statusCode();
        String id = jsonString(body, "id");
        if (status >= 200 && status < 300 && id != null) {
            System.out.println(id);
            return 0;
        }
        String code = jsonString(body, "code");
        if (code != null) {
            String detail = jsonString(body, "detail");
            System.err.println(code + ": " + (detail == null ? "" : detail));
        } else {
            System.err.println("error: HTTP " + status + ": " + body.substring(0, Math.min(body.length(), 500)));
        }
        return 1;
    }

    /** The value of a top-level string field of a small JSON object, or null (no JSON library needed). */
    static String jsonString(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
        if (!m.find()) {
            return null;
        }
        String raw = m.group(1);
        StringBuilder out = new StringBuilder(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c != '\\' || i + 1 >= raw.length()) {
                out.append(c);
                continue;
            }
            char e = raw.charAt(++i);
            switch (e) {
                case 'n': out.append('\n'); break;
                case 't': out.append('\t'); break;
                case 'r': out.append('\r'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'u':
                    if (i + 4 < raw.length()) {
                        out.append((char) Integer.parseInt(raw.substring(i + 1, i + 5), 16));
                        i += 4;
                    }
                    break;
                default: out.append(e); // \" \\ \/
            }
        }
        return out.toString();
    }
}
