-- Benchmark corpus: the vocabulary, rare search terms and a pool of 3,000
-- varied markdown blocks (prose, lists, code, quotes, links, headings) from
-- which scripts/bench/posts.sql composes each post's ~4 KB of content.
-- Deterministic (setseed), so every run reads the same data set.
SELECT setseed(0.42);
CREATE TABLE bench_words (id int PRIMARY KEY, word text NOT NULL);
INSERT INTO bench_words
SELECT row_number() OVER (), w FROM unnest(string_to_array(
  'the of and to in is that for on with as by at from this it be are was an or which will can has have not more '
  'editor editors article articles draft drafts publish published publishing review reviewer approval pipeline model models '
  'content writer writing reader readers audience story stories headline headlines source sources claim claims fact facts '
  'database query queries index indexes table tables cache caches request requests response responses server servers '
  'latency throughput memory disk network connection connections transaction transactions replica replicas backup '
  'markdown html link links image images caption captions category categories tag tags author authors page pages '
  'search ranking relevance keyword keywords summary summaries excerpt excerpts title titles slug slugs feed feeds '
  'newsletter subscriber subscribers campaign campaigns schedule scheduled deadline deadlines calendar team teams '
  'quality score scores critique refine refinement feedback revision revisions history audit trail preview link '
  'rust tokio actix diesel postgres postgresql async await future futures thread threads worker workers queue queues '
  'error errors retry retries budget cost costs token tokens provider providers fallback router routing prompt prompts '
  'performance benchmark benchmarks measure measured figure figures report reports chart charts result results '
  'simple careful honest clear quick slow fast large small daily weekly monthly early late new old first last '
  'write writes read reads check checks test tests ship ships build builds deploy deploys run runs keep keeps '
  'mountain river coffee garden winter summer autumn spring city village harbour market bridge library museum',
  ' ')) w;

CREATE TABLE bench_rare (id int PRIMARY KEY, word text NOT NULL);
INSERT INTO bench_rare
SELECT i, s1.s || s2.s || s3.s
FROM generate_series(0, 1999) i,
     LATERAL (SELECT (ARRAY['ka','lo','mi','ru','te','zan','vor','quil','bex','dra','fen','gor'])[1 + i % 12] AS s) s1,
     LATERAL (SELECT (ARRAY['ba','do','ki','lu','me','no','pi','ra','su','ti'])[1 + (i / 12) % 10] AS s) s2,
     LATERAL (SELECT (ARRAY['x','th','nd','rk','lm','sp','vy','qu','zz','ph','ck','ght','mb','rn','st','wl','ff'])[1 + (i / 120) % 17] AS s) s3;

-- A sentence of 6 to 19 words from the vocabulary.
CREATE FUNCTION bench_sentence() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT upper(left(s, 1)) || substr(s, 2) || '.'
    FROM (SELECT string_agg(v.words[1 + floor(random() * array_length(v.words, 1))::int], ' ') AS s
          FROM (SELECT array_agg(word ORDER BY id) AS words FROM bench_words) v,
               generate_series(1, 6 + floor(random() * 14)::int)) t
$$;

CREATE TABLE bench_blocks (id int PRIMARY KEY, body text NOT NULL);
INSERT INTO bench_blocks
SELECT i, CASE i % 10
    WHEN 0 THEN '## ' || bench_sentence()
    WHEN 1 THEN (SELECT string_agg('- ' || bench_sentence(), E'\n') FROM generate_series(1, 3 + i % 4))
    WHEN 2 THEN (SELECT string_agg(n || '. ' || bench_sentence(), E'\n') FROM generate_series(1, 2 + i % 5) n)
    WHEN 3 THEN E'```rust\nfn step_' || i || E'(input: &str) -> usize {\n    let words = input.split_whitespace().count();\n    words * ' || (i % 97) || E' + ' || (i % 13) || E'\n}\n```'
    WHEN 4 THEN '> ' || bench_sentence() || ' ' || bench_sentence()
    WHEN 5 THEN bench_sentence() || ' See [' || lower(bench_sentence()) || '](https://example.org/notes/' || i || ') and `code_' || i || '`. ' || bench_sentence()
    ELSE (SELECT string_agg(bench_sentence(), ' ') FROM generate_series(1, 3 + i % 4))
  END
FROM generate_series(0, 2999) i;
ANALYZE bench_words, bench_rare, bench_blocks;
