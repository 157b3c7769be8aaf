"""The evaluator's parts, built at load and run per complaint: typed facts, compiled conditions, the
bitset index over every table, budget plans, and the rule-by-rule evaluator whose trace the tools read."""
