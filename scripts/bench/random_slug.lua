-- wrk: a random post by slug per request.
request = function()
  return wrk.format("GET", "/api/posts/bench-post-" .. math.random(1, 10000))
end
