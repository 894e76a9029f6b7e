// English strings. Keys are grouped by screen; enum values (state., priority., fault., severity., sla., role.)
// translate the API's names. Placeholders: {name}. Add a key here and in zh-CN.js (docs/web-app.md).
export default {
  'app.name': 'pvfleet',
  'title.dashboard': 'Dashboard', 'title.customers': 'Customers', 'title.work-orders': 'Work orders', 'title.my': 'My work orders', 'title.login': 'Log in',

  'header.nav': 'Main navigation', 'header.language': 'Language', 'header.logout': 'Log out',
  'nav.dashboard': 'Dashboard', 'nav.customers': 'Customers', 'nav.work_orders': 'Work orders', 'nav.unassigned': 'Unassigned sites', 'nav.my': 'My work orders',

  'login.tagline': 'Fleet operations for household solar', 'login.user': 'User name', 'login.password': 'Password', 'login.submit': 'Log in',
  'login.missing': 'Enter user name and password.', 'login.wrong': 'Wrong user name or password.', 'login.too_many': 'Too many failed attempts. Try again in a few minutes.',

  'common.loading': 'Loading…', 'common.none': 'Nothing here yet.', 'common.retry': 'Retry', 'common.reload': 'Reload', 'common.save': 'Save', 'common.saved': 'Saved.',
  'common.cancel': 'Cancel', 'common.create': 'Create', 'common.edit': 'Edit', 'common.remove': 'Remove', 'common.all': 'All', 'common.reset': 'Clear filters',
  'common.export_csv': 'Export CSV', 'common.load_more': 'Load more', 'common.updated_at': 'Updated',

  'error.network': 'The server cannot be reached. Check the connection and retry.', 'error.conflict': 'Someone changed this meanwhile — reload to see the current version, then retry.',
  'error.forbidden': 'Not allowed for your role.', 'error.not_found': 'Not found.', 'error.generic': 'Something went wrong.',

  'dash.title': 'Fleet overview', 'dash.subtitle': 'Generation, site health and open work — refreshed every 30 seconds',
  'dash.updated': 'Updated {time}', 'dash.refresh_failed': 'Refresh failed; showing the last figures.',
  'dash.gen_today': 'Generation today', 'dash.yesterday': 'Yesterday', 'dash.delta_hint': 'Today so far compared with all of yesterday',
  'dash.specific_yield': 'Specific yield today', 'dash.installed': '{kwp} kWp installed',
  'dash.sites': 'Sites', 'dash.online': 'Online', 'dash.offline': 'Offline', 'dash.unassigned': 'Unassigned',
  'dash.mttr': 'Mean time to repair', 'dash.mttr_hint': 'Created → closed, orders closed in the last 30 days',
  'dash.sla': 'SLA of open work orders', 'dash.sla_hint': 'Green: on time · Yellow: under 25 % of the response time left · Red: overdue',
  'dash.by_severity': 'Open work orders by severity', 'dash.by_age': 'Open work orders by age', 'dash.open_total': '{n} open',
  'dash.age_under_1d': 'Under 1 day', 'dash.age_1d_7d': '1 to 7 days', 'dash.age_over_7d': 'Over 7 days',
  'dash.urgent': 'Most urgent open work orders', 'dash.no_urgent': 'No open work orders.', 'dash.all_work_orders': 'All work orders →',

  'cust.title': 'Customers', 'cust.subtitle': 'Search by name, phone, e-mail or address', 'cust.search': 'Search customers', 'cust.search_placeholder': 'Search name, phone, e-mail, address…',
  'cust.count': '{n} shown', 'cust.none': 'No customers yet.', 'cust.none_found': 'No customer matches “{q}”.', 'cust.new': 'New customer', 'cust.created': 'Customer {name} created.',
  'cust.id': 'Customer no.', 'cust.name': 'Name', 'cust.phone': 'Phone', 'cust.email': 'E-mail', 'cust.address': 'Address', 'cust.notes': 'Notes',
  'cust.subhead': 'Customer no. {id} · {n} site(s)', 'cust.contact': 'Contact', 'cust.sites': 'Sites and devices', 'cust.no_sites': 'This customer has no site yet.',
  'cust.work_orders': 'Work-order history', 'cust.generation': 'Generation',

  'site.name': 'Site', 'site.kwp': 'Installed', 'site.arrays': 'Arrays (tilt / azimuth)', 'site.grid_connected': 'Grid connected', 'site.warranty_end': 'Warranty until',
  'site.time_zone': 'Time zone', 'site.devices': 'Devices', 'site.online': 'Online', 'site.offline': 'Offline', 'site.status_unknown': 'Status …', 'site.no_status': 'No status yet',
  'site.map': 'Map', 'site.open_map': 'Open map',
  'enroll.create': 'Enrollment code for the gateway', 'enroll.valid_until': 'Single use, valid until {at}', 'enroll.once': 'Shown only now: give it to the installer.',

  'dev.id': 'Device', 'dev.vendor': 'Vendor', 'dev.model': 'Model', 'dev.serial': 'Serial no.', 'dev.firmware': 'Firmware', 'dev.last_seen': 'Last seen', 'dev.none': 'No devices reported yet.',

  'gen.day': 'Day', 'gen.month': 'Month', 'gen.year': 'Year', 'gen.prev': 'Previous', 'gen.next': 'Next', 'gen.power': 'AC power',
  'wo.set_due': 'Set due date', 'wo.due_set': 'Due date changed', 'gen.expected': 'Clear-sky expected', 'dash.expected': 'Expected so far / all day', 'dash.expected_hint': "Clear-sky expectation from each site's location and PV arrays: a sunny-day upper bound",
  'gen.energy': 'Energy', 'gen.specific_yield': 'Specific yield', 'gen.peak': 'Peak power', 'gen.kwp': 'Installed', 'gen.avg_day': 'Average per day', 'gen.avg_month': 'Average per month',
  'gen.no_data': 'No measurements for this period.', 'gen.hint': 'Measured against the clear-sky expectation from the site’s location and arrays; days in the site’s time zone ({tz}). Specific yield = energy ÷ installed kWp.',

  'wo.board_title': 'Work orders', 'wo.board_sub': '{n} open, most urgent first', 'wo.unassigned_title': 'Unassigned sites queue', 'wo.unassigned_sub': 'Open work orders at sites not yet linked to a customer',
  'wo.col_empty': 'None', 'wo.none': 'No work orders.', 'wo.count': '{n} work orders',
  'wo.id': 'Work order', 'wo.state': 'State', 'wo.priority': 'Priority', 'wo.severity': 'Severity', 'wo.sla': 'SLA', 'wo.fault_kind': 'Fault', 'wo.summary': 'Summary',
  'wo.site': 'Site', 'wo.device': 'Device', 'wo.assignee': 'Technician', 'wo.technician': 'Technician', 'wo.created': 'Created', 'wo.due': 'Due', 'wo.closed_at': 'Closed',
  'wo.ticket': 'Gateway ticket', 'wo.no_ticket': 'No gateway ticket', 'wo.age': 'Age', 'wo.ago': '{d} ago', 'wo.due_short': 'due {date}', 'wo.due_in': 'in {d}', 'wo.overdue_by': 'overdue by {d}',
  'wo.unassigned': 'Unassigned', 'wo.unassigned_site_queue': 'Unassigned sites only', 'wo.facts': 'Details', 'wo.evidence': 'Evidence', 'wo.history': 'History', 'wo.customer': 'Customer',
  'wo.condition': 'Condition', 'wo.cleared': 'Cleared at the edge', 'wo.active': 'Active', 'wo.reopened': 'Reopened',
  'wo.actions': 'Actions', 'wo.assign': 'Assign', 'wo.reassign': 'Hand over', 'wo.choose_technician': 'Choose a technician…', 'wo.assigned_to': 'Assigned to {name}.',
  'wo.change_state': 'Change state', 'wo.final': 'This work order is finished.', 'wo.read_only': 'Read-only access: you can view but not change work orders.',
  'wo.site_unassigned': 'This site is not linked to a customer yet.',

  'move.assigned': 'Assign', 'move.in_progress': 'Start work', 'move.done': 'Mark done', 'move.closed': 'Close', 'move.cancelled': 'Cancel order', 'move.new': 'Back to new', 'move.done_msg': 'Now {state}.',
  'move.unassign': 'Unassign', 'move.rework': 'Rework', 'move.cancel_reason': 'Reason for cancelling (optional):', 'move.close_reason': 'Closing note (optional):',
  'ev.name': 'Measure', 'ev.observed': 'Observed', 'ev.expected': 'Expected', 'ev.t': 'At', 'ev.none': 'No evidence recorded.',
  'chart.readings_title': 'Readings around the fault', 'chart.readings_hint': 'Raw AC power of the device, 6 h before to 1 h after the work order was created.',
  'chart.wo_created': 'Work order', 'chart.evidence': 'Evidence', 'chart.no_readings': 'No readings in this window.',

  'notes.title': 'Notes and visits', 'notes.none': 'No notes yet.', 'notes.record': 'Record a visit', 'notes.text': 'What was done', 'notes.placeholder': 'Findings, work done, follow-up…',
  'notes.part': 'Part replaced', 'notes.part_placeholder': 'e.g. communication board', 'notes.new_serial': 'New serial no.', 'notes.add_part': 'Add a replaced part', 'notes.save': 'Save visit',
  'notes.saved': 'Visit recorded.', 'notes.part_required': 'Name the replaced part.', 'notes.device_required': 'Choose the device whose serial number changed.',

  'ticket.title': 'Gateway ticket', 'ticket.label': 'Ticket', 'ticket.acknowledge': 'Acknowledge ticket', 'ticket.resolve': 'Resolve ticket', 'ticket.note_prompt': 'Note for the gateway (optional):',
  'ticket.acknowledge_sent': 'Acknowledgement sent to the gateway.', 'ticket.resolve_sent': 'Resolution sent to the gateway.', 'ticket.hint': 'Sent to the gateway as a command; the work order updates when the gateway confirms.',

  'my.title': 'My work orders', 'my.count': '{n} open, most urgent first', 'my.none': 'No open work orders. Well done!', 'my.navigate': 'Navigate', 'my.call': 'Call', 'my.email': 'E-mail',
  'my.where': 'Where', 'my.device': 'Device and fault',

  'sla.title': 'Response time (SLA)', 'sla.green': 'On time', 'sla.yellow': 'Due soon', 'sla.red': 'Overdue',
  'state.new': 'New', 'state.assigned': 'Assigned', 'state.in_progress': 'In progress', 'state.done': 'Done', 'state.closed': 'Closed', 'state.cancelled': 'Cancelled',
  'priority.urgent': 'Urgent', 'priority.high': 'High', 'priority.normal': 'Normal', 'priority.low': 'Low',
  'severity.critical': 'Critical', 'severity.major': 'Major', 'severity.minor': 'Minor', 'severity.info': 'Info',
  'role.admin': 'Administrator', 'role.back_office': 'Back office', 'role.technician': 'Technician', 'role.manager': 'Manager',
  'fault.not_producing': 'Not producing', 'fault.comm_lost': 'Communication lost', 'fault.inverter_fault': 'Inverter fault', 'fault.string_fault': 'String fault',
  'fault.underperformance': 'Underperformance', 'fault.grid_outage': 'Grid outage', 'fault.counter_backwards': 'Energy counter went backwards', 'fault.frozen_values': 'Frozen readings', 'fault.implausible_values': 'Implausible readings',
  'fault.clock_drift': 'Gateway clock drift', 'fault.preventive': 'Preventive inspection',
};
