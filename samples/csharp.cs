// Sends one example event to the eventward notification {{workspace}}/{{notification}} with HttpClient.
// Run: {{env_var}}=... dotnet run   (.NET 6+: this file is Program.cs of a console project, dotnet new console)
// {{credential_note}}
using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;

const string Endpoint = "{{url}}";
const string EnvVar = "{{env_var}}";

var credential = Environment.GetEnvironmentVariable(EnvVar);
if (string.IsNullOrEmpty(credential))
{
    Console.Error.WriteLine($"error: set {EnvVar} to {{credential_kind}}");
    return 2;
}

using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint);
request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
var eventJson = JsonSerializer.Serialize(new { example = true, sent_by = "csharp sample" });
request.Content = new StringContent(eventJson, Encoding.UTF8);
request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

HttpResponseMessage response;
try
{
    response = await http.SendAsync(request);
}
catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException)
{
    Console.Error.WriteLine($"error: request to {Endpoint} failed: {e.Message}");
    return 1;
}

// 202: {"id", "status"}; refusals: application/problem+json {title, status, detail, code}.
var text = await response.Content.ReadAsStringAsync();
string? id = null, code = null, detail = null;
try
{
    using var doc = JsonDocument.Parse(text);
    if (doc.RootElement.ValueKind == JsonValueKind.Object)
    {
        id = StringField(doc.RootElement, "id");
        code = StringField(doc.RootElement, "code");
        detail = StringField(doc.RootElement, "detail");
    }
}
catch (JsonException)
{
    // not JSON: reported below with the status
}

if (response.IsSuccessStatusCode && id is not null)
{
    Console.WriteLine(id);
    return 0;
}
if (code is not null)
{
    Console.Error.WriteLine($"{code}: {detail}");
}
else
{
    Console.Error.WriteLine($"error: HTTP {(int)response.StatusCode}: {(text.Length > 500 ? text[..500] : text)}");
}
return 1;

static string? StringField(JsonElement obj, string name) =>
    obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
