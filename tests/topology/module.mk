# tests/topology/: one cmocka binary per unit of topology/.
UNIT_TESTS += tests/topology/test_cpulist tests/topology/test_config \
	      tests/topology/test_discover tests/topology/test_plan \
	      tests/topology/test_pin tests/topology/test_tool
tests/topology/test_plan_EXTRA := tests/topology/json_check.c
tests/topology/test_tool_EXTRA := tests/topology/json_check.c
# test_tool runs the tool, so building it builds the tool too (`make tests`
# alone does not build tools).
$(BUILD)/tests/topology/test_tool: $(BUILD)/bin/pinion-topo
