-- POST a stream of distinct contributions; each thread writes the index of every
-- 201 answer to its own file under ACKED_DIR, so the run can check that each
-- acknowledged write is in the log afterwards.
local counter = 0
local threads = 0
local token = os.getenv("LEDGER_TOKEN")
local fund = os.getenv("FUND")
local campaign = os.getenv("CAMPAIGN")

setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end

init = function(args)
  acked = io.open(os.getenv("ACKED_DIR") .. "/thread-" .. id .. ".txt", "w")
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"fund":"%s","campaign":"%s","amount":%d,"channel":"cash","donor":{"display":"Nhà hảo tâm %d-%d","type":"individual"}}',
    fund, campaign, 10000 + counter, id, counter)
  return wrk.format("POST", "/api/v1/contributions", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

response = function(status, headers, body)
  if status == 201 then
    local index = string.match(body, '"index":%s*(%d+)')
    acked:write(index, "\n")
    acked:flush()
  end
end
