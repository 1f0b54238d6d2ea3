-- Every request carries a new X-Ray trace root, as an Application Load Balancer adds to each
-- request it forwards: "X-Amzn-Trace-Id: Root=1-<8 hex: epoch seconds>-<24 hex: random>".
-- https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-request-tracing.html

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", os.time() * 1000 + threads)  -- each wrk thread its own random sequence
end

function init(args)
  math.randomseed(seed)
end

local function random_hex(digits)
  local parts = {}
  for i = 1, digits / 4 do
    parts[i] = string.format("%04x", math.random(0, 0xffff))
  end
  return table.concat(parts)
end

function request()
  local root = string.format("Root=1-%08x-%s", os.time(), random_hex(24))
  return wrk.format(nil, nil, {["X-Amzn-Trace-Id"] = root})
end
