# Sends one example event to the eventward notification {{workspace}}/{{notification}} with Net::HTTP.
# Run: {{env_var}}=... ruby sample.rb   (standard library only)
# {{credential_note}}
require "json"
require "net/http"
require "uri"

ENDPOINT = URI("{{url}}")
ENV_VAR = "{{env_var}}"

credential = ENV.fetch(ENV_VAR, "")
if credential.empty?
  warn "error: set #{ENV_VAR} to {{credential_kind}}"
  exit 2
end

request = Net::HTTP::Post.new(ENDPOINT)
request["Content-Type"] = "application/json"
request["Authorization"] = "Bearer #{credential}"
request.body = JSON.generate({ example: true, sent_by: "ruby sample" })

begin
  response = Net::HTTP.start(ENDPOINT.host, ENDPOINT.port,
                             use_ssl: ENDPOINT.scheme == "https",
                             open_timeout: 10, read_timeout: 30) do |http|
    http.request(request)
  end
rescue StandardError => e
  warn "error: request to #{ENDPOINT} failed: #{e.message}"
  exit 1
end

body = begin
  JSON.parse(response.body.to_s)
rescue JSON::ParserError
  nil
end
body = nil unless body.is_a?(Hash)

if response.is_a?(Net::HTTPSuccess) && body && body["id"]
  puts body["id"]
  exit 0
end
if body && body["code"]
  # application/problem+json: title, status, detail, code
  warn "#{body['code']}: #{body['detail']}"
else
  warn "error: HTTP #{response.code}: #{response.body.to_s[0, 500]}"
end
exit 1
