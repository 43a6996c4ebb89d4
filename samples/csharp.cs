// Sends one example event to the eventward notification {{workspace}}/{{notification}} with HttpClient.
// Run: {{env_var}}=... dotnet run   (.NET 6+: this file is Program.cs of a console project, dotnet new console)
//  or: mcs -r:System.Net.Http.dll -r:System.Runtime.Serialization.dll sample.cs && {{env_var}}=... mono sample.exe   (Mono)
// {{credential_note}}
using System;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.Serialization;
using System.Runtime.Serialization.Json;
using System.Text;
using System.Threading.Tasks;

public static class Sample
{
    const string Endpoint = "{{url}}";
    const string EnvVar = "{{env_var}}";

    public static int Main()
    {
        var credential = Environment.GetEnvironmentVariable(EnvVar);
        if (string.IsNullOrEmpty(credential))
        {
            Console.Error.WriteLine("error: set " + EnvVar + " to {{credential_kind}}");
            return 2;
        }

        using (var http = new HttpClient())
        using (var request = new HttpRequestMessage(HttpMethod.Post, Endpoint))
        {
            http.Timeout = TimeSpan.FromSeconds(30);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
            request.Headers.ExpectContinue = false;
            request.Content = new StringContent("{\"example\":true,\"sent_by\":\"csharp sample\"}", Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

            HttpResponseMessage response;
            string text;
            try
            {
                response = http.SendAsync(request).GetAwaiter().GetResult();
                text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException)
            {
                Console.Error.WriteLine("error: request to " + Endpoint + " failed: " + e.Message);
                return 1;
            }

            // 202: {"id", "status"}; refusals: application/problem+json {title, status, detail, code}.
            Answer answer = Answer.Parse(text);
            if (response.IsSuccessStatusCode && !string.IsNullOrEmpty(answer.Id))
            {
                Console.WriteLine(answer.Id);
                return 0;
            }
            if (!string.IsNullOrEmpty(answer.Code))
            {
                Console.Error.WriteLine(answer.Code + ": " + answer.Detail);
            }
            else
            {
                string shown = text.Length > 500 ? text.Substring(0, 500) : text;
                Console.Error.WriteLine("error: HTTP " + (int)response.StatusCode + ": " + shown);
            }
            return 1;
        }
    }
}

// The fields of eventward's answer that the sample uses; a missing one stays empty.
[DataContract]
public class Answer
{
    [DataMember(Name = "id")] public string Id = "";
    [DataMember(Name = "code")] public string Code = "";
    [DataMember(Name = "detail")] public string Detail = "";

    public static Answer Parse(string text)
    {
        try
        {
            var json = new DataContractJsonSerializer(typeof(Answer));
            using (var stream = new MemoryStream(Encoding.UTF8.GetBytes(text)))
            {
                return json.ReadObject(stream) as Answer ?? new Answer();
            }
        }
        catch (Exception e) when (e is SerializationException || e is System.Xml.XmlException)
        {
            return new Answer(); // not JSON (a proxy's error page): reported with the status
        }
    }
}
