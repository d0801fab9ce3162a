import EESCore
import Testing

@Suite struct NativeQueryTests {
    @Test func optionalClauseStaysOnlyWithAValue() throws {
        let q = try NativeQuery.parse("SELECT 1 WHERE true [[AND d = {{device}}]] ORDER BY 1")
        #expect(q.tags == ["device"])
        #expect(try q.render([:]) == "SELECT 1 WHERE true  ORDER BY 1")
        #expect(try q.render(["device": "dev-1"]) == "SELECT 1 WHERE true AND d = 'dev-1' ORDER BY 1")
    }

    @Test func valuesAreQuotedLiterals() throws {
        let q = try NativeQuery.parse("[[x = {{ device }}]]")
        #expect(try q.render(["device": "a' OR '1'='1"]) == "x = 'a'' OR ''1''=''1'")
        #expect(try q.render(["device": #"back\slash"#]) == #"x = 'back\slash'"#)
    }

    @Test func aRequiredTagNeedsAValue() throws {
        let q = try NativeQuery.parse("SELECT {{n}}")
        #expect(throws: NativeQueryError.self) { try q.render([:]) }
        #expect(try q.render(["n": "x"]) == "SELECT 'x'")
    }

    @Test func malformedTemplatesAreRejected() {
        for bad in ["{{device", "[[a", "a]]", "[[ [[a]] ]]", "{{}}", "{{a b}}", "{{a;}}"] {
            #expect(throws: NativeQueryError.self, "\(bad)") { try NativeQuery.parse(bad) }
        }
    }
}

@Suite struct DashboardQueriesTests {
    @Test func everyCardParsesAndUsesOnlyTheDeviceFilter() throws {
        #expect(DashboardQueries.cards.count == 3)
        #expect(Set(DashboardQueries.cards.map(\.name)).count == DashboardQueries.cards.count)
        #expect(Set(DashboardQueries.cards.map(\.key)).count == DashboardQueries.cards.count)
        for card in DashboardQueries.cards {
            let q = try NativeQuery.parse(card.sql)
            #expect(q.tags == [DashboardQueries.deviceFilter.tag], "\(card.key)")
            // Without a device every clause goes; with one, no template syntax is left.
            let all = try q.render([:])
            let one = try q.render(["device": "d-1"])
            #expect(!all.contains("device_id = "), "\(card.key)")
            #expect(one.contains("device_id = 'd-1'"), "\(card.key)")
            for leftover in ["{{", "}}", "[[", "]]"] {
                #expect(!all.contains(leftover) && !one.contains(leftover), "\(card.key)")
            }
        }
    }

    @Test func chartsNameColumnsTheirSQLReturns() {
        for card in DashboardQueries.cards {
            #expect((card.display == .line) == (card.chart != nil), "\(card.key)")
            for column in (card.chart?.dimensions ?? []) + (card.chart?.metrics ?? []) {
                #expect(card.sql.contains(column), "\(card.key): \(column)")
            }
        }
    }

    @Test func layoutFitsTheGridWithoutOverlap() {
        var cells = Set<Int>()
        for card in DashboardQueries.cards {
            let l = card.layout
            #expect(l.col >= 0 && l.row >= 0 && l.sizeX > 0 && l.sizeY > 0 && l.col + l.sizeX <= 24, "\(card.key)")
            for r in l.row..<(l.row + l.sizeY) {
                for c in l.col..<(l.col + l.sizeX) {
                    #expect(cells.insert(r * 24 + c).inserted, "\(card.key) overlaps at row \(r) col \(c)")
                }
            }
        }
    }
}
