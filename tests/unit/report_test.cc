#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <boost/json.hpp>

#include "core/report.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(ctr_is_clicks_over_impressions_and_zero_without_impressions) {
  BOOST_TEST(ctr(Counts{8, 5, 2, 1}) == 0.25);
  BOOST_TEST(ctr(Counts{0, 0, 3, 0}) == 0.0);
}

BOOST_AUTO_TEST_CASE(totals_sum_days_but_take_unique_users_from_the_range) {
  std::vector<DayRow> days = {{2, 20000, {4, 3, 1, 1}}, {1, 20001, {6, 5, 0, 2}},
                              {1, 20000, {10, 7, 3, 1}}};
  Report r = build_report(days, {{1, 9}, {2, 3}}, 11);
  BOOST_REQUIRE(r.days.size() == 3u);
  BOOST_TEST(r.days[0].popup_id == 1);
  BOOST_TEST(r.days[0].day == 20000);
  BOOST_TEST(r.per_popup[1].impressions == 16);
  BOOST_TEST(r.per_popup[1].users == 9);
  BOOST_TEST(r.per_popup[1].clicks == 3);
  BOOST_TEST(r.per_popup[1].ignores == 3);
  BOOST_TEST(r.total.impressions == 20);
  BOOST_TEST(r.total.users == 11);
  BOOST_TEST(r.total.clicks == 4);
  std::string csv = format_report_csv(r);
  BOOST_TEST(csv.find("popup_id,day,impressions,unique_users,clicks,ignores,ctr\n1,2024-10-04,10,7,3,1,0.3000\n") == 0u);
  BOOST_TEST(csv.find("\n1,total,16,9,3,3,0.1875\n") != std::string::npos);
  BOOST_TEST(csv.find("\nall,total,20,11,4,4,0.2000\n") != std::string::npos);
  std::string text = format_report_text(r);
  BOOST_TEST(text.find("1        total               16        9        3        3   18.75%") != std::string::npos);
  BOOST_TEST(report_json(r).find("\"total\":{\"impressions\":20,\"unique_users\":11") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(chart_data_is_one_popup_by_day) {
  Report r = build_report({{1, 20000, {10, 7, 3, 1}}, {2, 20000, {4, 3, 1, 1}}, {1, 20001, {0, 0, 1, 0}}}, {}, 0);
  BOOST_TEST(chart_data(r, 1) == "2024-10-04 10 30.0000\n2024-10-05 0 0.0000\n");
  BOOST_TEST(chart_data(r, 3).empty());
  std::string gp = chart_script(r, 1, "/tmp/d", "/tmp/o.png");
  BOOST_TEST(gp.find("set terminal pngcairo") != std::string::npos);
  BOOST_TEST(gp.find("set output '/tmp/o.png'") != std::string::npos);
  BOOST_TEST(gp.find("plot '/tmp/d' using 1:2") != std::string::npos);
  // Days 20000 and 20001: half a day either side, a tick a day from the first.
  BOOST_TEST(gp.find("set xrange [1727956800:1728129600]") != std::string::npos);
  BOOST_TEST(gp.find("set xtics 1728000000, 86400 ") != std::string::npos);
  BOOST_TEST(chart_script(r, 1, "/tmp/d", "/tmp/o.svg").find("set terminal svg") == 0u);
}

BOOST_AUTO_TEST_CASE(chart_ticks_stay_at_most_fifteen) {
  std::vector<DayRow> days;
  for (int64_t d = 0; d < 90; ++d) days.push_back(DayRow{1, 20000 + d, {1, 1, 0, 0}});
  Report r = build_report(days, {}, 0);
  // 90 days: a tick every 6 days, 15 labels.
  BOOST_TEST(chart_script(r, 1, "/tmp/d", "/tmp/o.png").find("set xtics 1728000000, 518400 ") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_numbers_are_plain_decimals) {
  BOOST_TEST(plain_decimal(0.5) == "0.5");
  BOOST_TEST(plain_decimal(0.0) == "0");
  BOOST_TEST(plain_decimal(-0.0) == "0");
  BOOST_TEST(plain_decimal(1.0) == "1");
  BOOST_TEST(plain_decimal(1.0 / 3) == "0.3333333333333333");
  BOOST_TEST(plain_decimal(0.00001) == "0.00001");
  BOOST_TEST(plain_decimal(12.5) == "12.5");
  BOOST_TEST(std::stod(plain_decimal(1.0 / 7)) == 1.0 / 7);
  Report r = build_report({{1, 20000, {10, 7, 5, 1}}, {2, 20000, {0, 0, 0, 0}}}, {{1, 7}}, 7);
  std::string json = report_json(r);
  BOOST_TEST(json.find('E') == std::string::npos, json);
  BOOST_TEST(json.find("\"ctr\":0.5}") != std::string::npos, json);
  BOOST_TEST(json.find("\"ctr\":0}") != std::string::npos, json);
  BOOST_TEST(json.find("{\"popup_id\":1,\"day\":\"2024-10-04\",\"impressions\":10,") != std::string::npos, json);
  boost::json::value v = boost::json::parse(json);
  BOOST_TEST(v.at("total").at("ctr").to_number<double>() == 5.0 / 10);
}

BOOST_AUTO_TEST_SUITE_END()
