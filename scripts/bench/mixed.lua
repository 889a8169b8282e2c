-- wrk: the mixed workload. 90 % anonymous public reads (first page, a random
-- post by slug, search, categories), 10 % authenticated writes: a draft post
-- or a task for the worker. TOKEN comes from the environment.
local token = os.getenv("TOKEN")
local counter = 0
local thread_id = 0

setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

init = function(args)
  math.randomseed(os.time() + (tid or 0))
end

request = function()
  local r = math.random(1, 100)
  if r <= 35 then
    return wrk.format("GET", "/api/posts?limit=20")
  elseif r <= 70 then
    return wrk.format("GET", "/api/posts/bench-post-" .. math.random(1, 10000))
  elseif r <= 85 then
    return wrk.format("GET", "/api/posts?q=serendipity&limit=10")
  elseif r <= 90 then
    return wrk.format("GET", "/api/categories")
  end
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if r <= 95 then
    local body = string.format('{"title": "Mixed load draft %d-%d-%d", "content": "A draft written under load."}',
      tid or 0, counter, math.random(1, 1000000000))
    return wrk.format("POST", "/api/posts", headers, body)
  end
  return wrk.format("POST", "/api/tasks", headers,
    '{"task_name": "mixed load", "topic": "housekeeping under load", "task_type": "housekeeping"}')
end
