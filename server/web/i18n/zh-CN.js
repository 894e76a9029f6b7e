// 简体中文。键与 en.js 相同；缺少的键回退到英文。占位符：{name}。
export default {
  'app.name': 'pvfleet',
  'title.dashboard': '总览', 'title.customers': '客户', 'title.work-orders': '工单', 'title.my': '我的工单', 'title.login': '登录',

  'header.nav': '主导航', 'header.language': '语言', 'header.logout': '退出登录',
  'nav.dashboard': '总览', 'nav.customers': '客户', 'nav.work_orders': '工单', 'nav.unassigned': '未归属站点', 'nav.my': '我的工单',

  'login.tagline': '户用光伏运维管理平台', 'login.user': '用户名', 'login.password': '密码', 'login.submit': '登录',
  'login.missing': '请输入用户名和密码。', 'login.wrong': '用户名或密码错误。', 'login.too_many': '失败次数过多，请几分钟后再试。',

  'common.loading': '加载中…', 'common.none': '暂无内容。', 'common.retry': '重试', 'common.reload': '重新加载', 'common.save': '保存', 'common.saved': '已保存。',
  'common.cancel': '取消', 'common.create': '创建', 'common.edit': '编辑', 'common.remove': '删除', 'common.all': '全部', 'common.reset': '清除筛选',
  'common.export_csv': '导出 CSV', 'common.load_more': '加载更多', 'common.updated_at': '更新时间',

  'error.network': '无法连接服务器，请检查网络后重试。', 'error.conflict': '此记录已被他人修改——请重新加载查看最新版本后再试。',
  'error.forbidden': '您的角色无此权限。', 'error.not_found': '未找到。', 'error.generic': '出现错误。',

  'dash.title': '电站群总览', 'dash.subtitle': '发电量、站点状态与未完成工单——每 30 秒刷新',
  'dash.updated': '更新于 {time}', 'dash.refresh_failed': '刷新失败，显示的是上次的数据。',
  'dash.gen_today': '今日发电量', 'dash.yesterday': '昨日', 'dash.delta_hint': '今日截至目前与昨日全天相比',
  'dash.specific_yield': '今日等效利用小时', 'dash.installed': '装机 {kwp} kWp',
  'dash.sites': '站点', 'dash.online': '在线', 'dash.offline': '离线', 'dash.unassigned': '未归属',
  'dash.mttr': '平均修复时间', 'dash.mttr_hint': '创建 → 关闭，近 30 天关闭的工单',
  'dash.sla': '未完成工单 SLA', 'dash.sla_hint': '绿色：按时 · 黄色：剩余响应时间不足 25% · 红色：已超时',
  'dash.by_severity': '未完成工单（按严重程度）', 'dash.by_age': '未完成工单（按时长）', 'dash.open_total': '未完成 {n} 个',
  'dash.age_under_1d': '不足 1 天', 'dash.age_1d_7d': '1 至 7 天', 'dash.age_over_7d': '超过 7 天',
  'dash.urgent': '最紧急的未完成工单', 'dash.no_urgent': '没有未完成的工单。', 'dash.all_work_orders': '全部工单 →',

  'cust.title': '客户', 'cust.subtitle': '按姓名、电话、邮箱或地址搜索', 'cust.search': '搜索客户', 'cust.search_placeholder': '搜索姓名、电话、邮箱、地址…',
  'cust.count': '已显示 {n} 位', 'cust.none': '暂无客户。', 'cust.none_found': '没有与“{q}”匹配的客户。', 'cust.new': '新建客户', 'cust.created': '已创建客户 {name}。',
  'cust.id': '客户编号', 'cust.name': '姓名', 'cust.phone': '电话', 'cust.email': '邮箱', 'cust.address': '地址', 'cust.notes': '备注',
  'cust.subhead': '客户编号 {id} · {n} 个站点', 'cust.contact': '联系方式', 'cust.sites': '站点与设备', 'cust.no_sites': '该客户还没有站点。',
  'cust.work_orders': '工单记录', 'cust.generation': '发电量',

  'site.name': '站点', 'site.kwp': '装机容量', 'site.arrays': '组串（倾角 / 方位角）', 'site.grid_connected': '并网日期', 'site.warranty_end': '质保截止',
  'site.time_zone': '时区', 'site.devices': '设备', 'site.online': '在线', 'site.offline': '离线', 'site.status_unknown': '状态 …', 'site.no_status': '尚无状态',
  'site.map': '地图', 'site.open_map': '打开地图',
  'enroll.create': '网关注册码', 'enroll.valid_until': '一次性使用，有效期至 {at}', 'enroll.once': '仅此一次显示：请交给安装人员。',

  'dev.id': '设备', 'dev.vendor': '厂商', 'dev.model': '型号', 'dev.serial': '序列号', 'dev.firmware': '固件', 'dev.last_seen': '最后通信', 'dev.none': '尚未上报设备。',

  'gen.day': '日', 'gen.month': '月', 'gen.year': '年', 'gen.prev': '上一个', 'gen.next': '下一个', 'gen.power': '交流功率',
  'wo.set_due': '设置截止时间', 'wo.due_set': '截止时间已更改', 'gen.expected': '晴空预期', 'dash.expected': '预期（截至目前/全天）', 'dash.expected_hint': '按各电站位置和组件阵列计算的晴空预期发电量：晴天上限',
  'gen.energy': '发电量', 'gen.specific_yield': '等效利用小时', 'gen.peak': '峰值功率', 'gen.kwp': '装机容量', 'gen.avg_day': '日均', 'gen.avg_month': '月均',
  'gen.no_data': '该时段没有测量数据。', 'gen.hint': '实测值与按站点位置和阵列计算的晴空预期对比；按站点时区（{tz}）划分日期。等效利用小时 = 发电量 ÷ 装机 kWp。',

  'wo.board_title': '工单', 'wo.board_sub': '未完成 {n} 个，最紧急的在前', 'wo.unassigned_title': '未归属站点队列', 'wo.unassigned_sub': '尚未关联客户的站点上的未完成工单',
  'wo.col_empty': '无', 'wo.none': '没有工单。', 'wo.count': '{n} 个工单',
  'wo.id': '工单', 'wo.state': '状态', 'wo.priority': '优先级', 'wo.severity': '严重程度', 'wo.sla': 'SLA', 'wo.fault_kind': '故障', 'wo.summary': '摘要',
  'wo.site': '站点', 'wo.device': '设备', 'wo.assignee': '技术员', 'wo.technician': '技术员', 'wo.created': '创建', 'wo.due': '截止', 'wo.closed_at': '关闭',
  'wo.ticket': '网关告警单', 'wo.no_ticket': '无网关告警单', 'wo.age': '时长', 'wo.ago': '{d}前', 'wo.due_short': '{date} 截止', 'wo.due_in': '还剩 {d}', 'wo.overdue_by': '已超时 {d}',
  'wo.unassigned': '未指派', 'wo.unassigned_site_queue': '仅未归属站点', 'wo.facts': '详情', 'wo.evidence': '证据', 'wo.history': '历史', 'wo.customer': '客户',
  'wo.condition': '故障状况', 'wo.cleared': '边缘端已恢复', 'wo.active': '持续中', 'wo.reopened': '重新打开次数',
  'wo.actions': '操作', 'wo.assign': '指派', 'wo.reassign': '转派', 'wo.choose_technician': '选择技术员…', 'wo.assigned_to': '已指派给 {name}。',
  'wo.change_state': '更改状态', 'wo.final': '该工单已结束。', 'wo.read_only': '只读权限：可以查看，但不能修改工单。',
  'wo.site_unassigned': '该站点尚未关联客户。',

  'move.assigned': '指派', 'move.in_progress': '开始处理', 'move.done': '标记完成', 'move.closed': '关闭', 'move.cancelled': '取消工单', 'move.new': '退回新建', 'move.done_msg': '当前状态：{state}。',
  'move.unassign': '取消指派', 'move.rework': '返工', 'move.cancel_reason': '取消原因（可选）：', 'move.close_reason': '关闭说明（可选）：',
  'ev.name': '指标', 'ev.observed': '观测值', 'ev.expected': '预期值', 'ev.t': '时间', 'ev.none': '没有记录证据。',
  'chart.readings_title': '故障前后读数', 'chart.readings_hint': '设备原始交流功率，工单创建前 6 小时至创建后 1 小时。',
  'chart.wo_created': '工单', 'chart.evidence': '证据', 'chart.no_readings': '该时段没有读数。',

  'notes.title': '备注与上门记录', 'notes.none': '暂无备注。', 'notes.record': '记录上门', 'notes.text': '处理情况', 'notes.placeholder': '发现的问题、处理内容、后续事项…',
  'notes.part': '更换部件', 'notes.part_placeholder': '例如：通信板', 'notes.new_serial': '新序列号', 'notes.add_part': '添加更换部件', 'notes.save': '保存记录',
  'notes.saved': '已记录上门。', 'notes.part_required': '请填写更换的部件。', 'notes.device_required': '请选择序列号变更的设备。',

  'ticket.title': '网关告警单', 'ticket.label': '告警单', 'ticket.acknowledge': '确认告警', 'ticket.resolve': '解除告警', 'ticket.note_prompt': '给网关的备注（可选）：',
  'ticket.acknowledge_sent': '确认指令已发送至网关。', 'ticket.resolve_sent': '解除指令已发送至网关。', 'ticket.hint': '以指令形式发送给网关；网关确认后工单随之更新。',

  'my.title': '我的工单', 'my.count': '未完成 {n} 个，最紧急的在前', 'my.none': '没有未完成的工单，干得好！', 'my.navigate': '导航', 'my.call': '拨打电话', 'my.email': '发邮件',
  'my.where': '地点', 'my.device': '设备与故障',

  'sla.title': '响应时限（SLA）', 'sla.green': '按时', 'sla.yellow': '即将到期', 'sla.red': '已超时',
  'state.new': '新建', 'state.assigned': '已指派', 'state.in_progress': '处理中', 'state.done': '已完成', 'state.closed': '已关闭', 'state.cancelled': '已取消',
  'priority.urgent': '紧急', 'priority.high': '高', 'priority.normal': '普通', 'priority.low': '低',
  'severity.critical': '严重', 'severity.major': '重要', 'severity.minor': '次要', 'severity.info': '提示',
  'role.admin': '管理员', 'role.back_office': '后台', 'role.technician': '技术员', 'role.manager': '经理',
  'fault.not_producing': '不发电', 'fault.comm_lost': '通信中断', 'fault.inverter_fault': '逆变器故障', 'fault.string_fault': '组串故障',
  'fault.underperformance': '发电量偏低', 'fault.grid_outage': '电网停电', 'fault.counter_backwards': '电量计数回退', 'fault.frozen_values': '读数冻结', 'fault.implausible_values': '读数不合理',
  'fault.clock_drift': '网关时钟偏差', 'fault.preventive': '预防性巡检',
};
