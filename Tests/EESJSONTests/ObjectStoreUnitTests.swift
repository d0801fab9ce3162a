// Unit tests for the object-store adapter's pure parts (no server): configuration parsing,
// key rules and encoding, the ListObjectsV2/error XML extractor, backoff, base64 and SHA-256.
// (They live in this target because the package keeps one unit-test target per area for now.)
import EESCore
import EESCrypto
@testable import EESObjectStore
import Testing

private let secret = "s3cr3t/Key+With:Colon"
private let env = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "eu-west-1"]

@Suite struct S3ConfigParsingTests {
    @Test func parsesURLWithDefaults() throws {
        let c = try S3Config.parse(url: "s3://ees-segments?endpoint=http://127.0.0.1:9000&region=us-east-1", env: env)
        #expect(c.bucket == "ees-segments")
        #expect(c.endpoint == "http://127.0.0.1:9000")
        #expect(c.region == "us-east-1")   // the URL wins over AWS_REGION
        #expect(c.accessKeyId == "AKIDEXAMPLE")
        #expect(c.secretAccessKey == secret)
        #expect(c.pathStyle)
        #expect(c.maxAttempts == 5 && c.backoffBaseMs == 100 && c.backoffMaxMs == 5_000)
        #expect(c.connectTimeoutMs == 3_000 && c.requestTimeoutMs == 30_000 && c.listPageKeysMax == 1_000)
    }

    @Test func parsesEveryParameterAndEnvRegion() throws {
        let c = try S3Config.parse(
            url: "s3://b-1.x/?endpoint=https%3A%2F%2Fs3.example.com&path_style=false&connect_timeout_ms=50"
                + "&request_timeout_ms=900&max_attempts=2&backoff_base_ms=10&backoff_max_ms=20"
                + "&response_bytes_max=1024&list_page_keys_max=7",
            env: env)
        #expect(c.bucket == "b-1.x" && c.endpoint == "https://s3.example.com" && c.region == "eu-west-1")
        #expect(!c.pathStyle && c.connectTimeoutMs == 50 && c.requestTimeoutMs == 900 && c.maxAttempts == 2)
        #expect(c.backoffBaseMs == 10 && c.backoffMaxMs == 20 && c.responseBytesMax == 1024 && c.listPageKeysMax == 7)
    }

    @Test func defaultsToAWSEndpointAndRegion() throws {
        let c = try S3Config.parse(url: "s3://bucket", env: ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"])
        #expect(c.region == "us-east-1" && c.endpoint == "https://s3.us-east-1.amazonaws.com")
    }

    @Test(arguments: [
        ("s3://Bad_Bucket?endpoint=http://h:1", "bucket name"),
        ("s3://ab?endpoint=http://h:1", "bucket name"),
        ("s3://bucket?endpoint=ftp://h", "endpoint"),
        ("s3://bucket?endpoint=http://h:99999", "endpoint"),
        ("s3://bucket?endpoint=http://h/path", "endpoint"),
        ("s3://bucket?endpoint=http://user:\(secret)@h", "user info"),
        ("s3://AKID:\(secret)@bucket", "user info"),
        ("s3://bucket/some/path", "path"),
        ("s3://bucket?endpont=http://h", "unknown s3:// URL parameter 'endpont'"),
        ("s3://bucket?max_attempts=lots", "integer"),
        ("s3://bucket?max_attempts=0", "max_attempts"),
        ("s3://bucket?backoff_base_ms=500&backoff_max_ms=100", "must not exceed backoff_max_ms"),
        ("s3://bucket?connect_timeout_ms=5000&request_timeout_ms=1000", "must not exceed request_timeout_ms"),
        ("s3://bucket?path_style=maybe", "path_style"),
        ("s3://bucket?region=us-east-1&region=eu-west-1", "given twice"),
        ("s3://bucket?region=us%ZZ", "percent-encoding"),
        ("http://bucket", "s3://"),
    ])
    func rejectsBadURLs(url: String, expected: String) {
        let error = #expect(throws: ObjectStoreConfigError.self) { try S3Config.parse(url: url, env: env) }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains(secret) == false)
        #expect(error?.message.contains("\n") == false)
    }

    @Test func missingCredentialsAreNamed() {
        let noKey = #expect(throws: ObjectStoreConfigError.self) {
            try S3Config.parse(url: "s3://bucket?endpoint=http://h:1", env: [:])
        }
        #expect(noKey?.message == "AWS_ACCESS_KEY_ID is not set (S3 bucket bucket)")
        let noSecret = #expect(throws: ObjectStoreConfigError.self) {
            try S3Config.parse(url: "s3://bucket?endpoint=http://h:1", env: ["AWS_ACCESS_KEY_ID": "k"])
        }
        #expect(noSecret?.message == "AWS_SECRET_ACCESS_KEY is not set (S3 bucket bucket)")
    }

    @Test func descriptionsRedactTheSecret() throws {
        let c = try S3Config.parse(url: "s3://bucket?endpoint=http://h:1", env: env)
        var dumped = ""
        dump(c, to: &dumped)
        for text in ["\(c)", String(reflecting: c), dumped] {
            #expect(!text.contains(secret), "\(text)")
            #expect(text.contains("<redacted>"))
        }
    }

    @Test func virtualHostStyleNeedsADNSName() {
        let c = S3Config(bucket: "bucket", endpoint: "http://127.0.0.1:9000", region: "us-east-1",
                         accessKeyId: "k", secretAccessKey: "s", pathStyle: false)
        #expect(throws: ObjectStoreConfigError.self) { try S3ObjectStore(config: c) }
    }
}

@Suite struct ObjectStoreURLTests {
    @Test func opensFileAndS3Stores() throws {
        let file = try ObjectStoreURL.open("file:///var/lib/ees/seg%20ments/", env: [:])
        #expect((file as? FileObjectStore)?.root == "/var/lib/ees/seg ments")
        let local = try ObjectStoreURL.open("file://localhost/tmp/x", env: [:])
        #expect((local as? FileObjectStore)?.root == "/tmp/x")
        let s3 = try ObjectStoreURL.open("s3://bucket?endpoint=http://127.0.0.1:9000", env: env)
        #expect((s3 as? S3ObjectStore)?.config.bucket == "bucket")
    }

    @Test(arguments: ["redis://x", "file://relative/dir", "file:///tmp/x?mode=1", "", "/var/lib/ees"])
    func rejectsOtherURLs(url: String) {
        #expect(throws: ObjectStoreConfigError.self) { try ObjectStoreURL.open(url, env: env) }
    }
}

@Suite struct ObjectKeyTests {
    @Test(arguments: ["a", "stream/dev-1/seg/00000000000000000001-00000000000000000010.jsonl", "with space/ü/日本",
                      "a/..b/c..", ".hidden/x", "~/x"])
    func acceptsKeys(key: String) throws { try ObjectKey.validate(key) }

    @Test(arguments: ["", "/abs", "a//b", "a/", "a/../b", "..", "./a", "a/.", String(repeating: "k", count: 1025)])
    func rejectsKeys(key: String) {
        let error = #expect(throws: ObjectStoreError.self) { try ObjectKey.validate(key) }
        #expect(error?.code == .rejected)
    }

    /// Apart from the parameterised cases so that test logs never carry a raw NUL byte.
    @Test func rejectsKeysWithNUL() {
        let error = #expect(throws: ObjectStoreError.self) { try ObjectKey.validate("nul\u{0}x") }
        #expect(error?.code == .rejected)
    }

    @Test func prefixesMayEndInsideASegment() throws {
        for ok in ["", "stream/", "stream/ab", "a/b/.", "a/.."] { try ObjectKey.validatePrefix(ok) }
        for bad in ["/x", "a//", "../x", "a/./b"] {
            #expect(throws: ObjectStoreError.self, "\(bad)") { try ObjectKey.validatePrefix(bad) }
        }
    }

    @Test func encodesPathsAndQueriesPerSigV4() {
        #expect(ObjectKey.s3PathEncoded("stream/a b/ü+&=?%#~._-Z9.jsonl")
                == "stream/a%20b/%C3%BC%2B%26%3D%3F%25%23~._-Z9.jsonl")
        #expect(ObjectKey.s3QueryEncoded("stream/a b+") == "stream%2Fa%20b%2B")
    }

    @Test func buildsSortedListURLsAndBothAddressingStyles() throws {
        let path = try S3ObjectStore(config: S3Config(bucket: "bkt", endpoint: "http://127.0.0.1:9000/", region: "us-east-1",
                                                      accessKeyId: "k", secretAccessKey: "s"))
        #expect(path.objectURL("a b/c") == "http://127.0.0.1:9000/bkt/a%20b/c")
        #expect(path.listURL(prefix: "stream/x y/", startAfter: "stream/x y/1", continuationToken: nil, maxKeys: 7)
                == "http://127.0.0.1:9000/bkt?encoding-type=url&list-type=2&max-keys=7&prefix=stream%2Fx%20y%2F&start-after=stream%2Fx%20y%2F1")
        #expect(path.listURL(prefix: "", startAfter: nil, continuationToken: "tok/+=", maxKeys: 1000)
                == "http://127.0.0.1:9000/bkt?continuation-token=tok%2F%2B%3D&encoding-type=url&list-type=2&max-keys=1000")
        let virtual = try S3ObjectStore(config: S3Config(bucket: "bkt", endpoint: "https://s3.eu-west-1.amazonaws.com",
                                                         region: "eu-west-1", accessKeyId: "k", secretAccessKey: "s",
                                                         pathStyle: false))
        #expect(virtual.objectURL("k") == "https://bkt.s3.eu-west-1.amazonaws.com/k")
        #expect(virtual.listURL(prefix: "", startAfter: nil, continuationToken: nil, maxKeys: 1)
                == "https://bkt.s3.eu-west-1.amazonaws.com/?encoding-type=url&list-type=2&max-keys=1")
    }
}

@Suite struct S3ListParserTests {
    @Test func parsesAPageWithEntitiesCommentsAndCDATA() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment with <Key>fake</Key> inside -->
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bkt</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
              <IsTruncated>true</IsTruncated>
              <Contents><Key>p/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x65E5;</Key><Size>3</Size><Owner><ID>x</ID></Owner></Contents>
              <Contents><Key><![CDATA[p/raw&amp;]]></Key><ETag>&quot;abc&quot;</ETag></Contents>
              <Contents><Key>p/plain</Key><StorageClass/></Contents>
              <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
            </ListBucketResult>
            """
        let page = try S3ListParser.parsePage(Array(xml.utf8))
        #expect(page.keys == ["p/a&b <c> \"d\" 'e' é日", "p/raw&amp;", "p/plain"])
        #expect(page.isTruncated)
        #expect(page.nextContinuationToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    }

    @Test func decodesURLEncodedKeys() throws {
        let xml = "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
            + "<Contents><Key>odd/with+space%2Bplus%20%C3%BC%26</Key></Contents></ListBucketResult>"
        let page = try S3ListParser.parsePage(Array(xml.utf8))
        #expect(page.keys == ["odd/with space+plus ü&"])
        #expect(!page.isTruncated && page.nextContinuationToken == nil)
    }

    @Test func anEmptyPageHasNoKeys() throws {
        let page = try S3ListParser.parsePage(Array("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>".utf8))
        #expect(page == S3ListPage(keys: [], isTruncated: false, nextContinuationToken: nil))
    }

    @Test(arguments: [
        "", "<ListBucketResult><Contents><Key>x</Contents></ListBucketResult>", "<ListBucketResult>",
        "<!DOCTYPE x [<!ENTITY e \"boom\">]><ListBucketResult/>", "<ListBucketResult><Contents><Key>&bogus;</Key></Contents></ListBucketResult>",
        "<Error><Code>NoSuchBucket</Code></Error>", "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
        "<ListBucketResult/><ListBucketResult/>", "<ListBucketResult><!-- unterminated </ListBucketResult>",
    ])
    func refusesMalformedPages(xml: String) {
        #expect(throws: S3XMLError.self) { try S3ListParser.parsePage(Array(xml.utf8)) }
    }

    @Test func readsErrorBodiesLeniently() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><RequestId>1</RequestId></Error>"
        #expect(S3ListParser.parseError(Array(xml.utf8))
                == S3ErrorBody(code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match"))
        #expect(S3ListParser.parseError([]) == S3ErrorBody())
        #expect(S3ListParser.parseError(Array("<html><body>502 Bad Gateway</body></html>".utf8)) == S3ErrorBody())
    }
}

@Suite struct S3HelpersTests {
    @Test func backoffDoublesUpToTheCapWithFullJitter() {
        let ceilings = (1...8).map { Backoff(baseMs: 100, maxMs: 5_000).ceilingMs(attempt: $0 - 1) }
        #expect(ceilings == [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000])
        #expect(Backoff(baseMs: 100, maxMs: 5_000).ceilingMs(attempt: 199) == 5_000)
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<500).map { _ in Backoff(baseMs: 100, maxMs: 5_000).delayMs(attempt: 2, using: &generator) }
        #expect(delays.allSatisfy { (0...400).contains($0) })
        #expect(Set(delays).count > 50)   // jittered, not a constant
    }

    @Test func base64MatchesRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors { #expect(Base64.encode(Array(plain.utf8)) == encoded) }
    }

    @Test func sha256MatchesKnownDigests() {
        #expect(Crypto.hex(Crypto.sha256([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Crypto.sha256Hex("hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(Base64.encode(Crypto.sha256([UInt8]())) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    }
}
