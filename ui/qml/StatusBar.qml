// Top bar: the loaded model (or loading progress) and the settings button.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: bar
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject engine: workspace.engine
    signal settingsRequested()
    signal chatSettingsRequested()

    implicitHeight: 48
    color: theme.window

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 16
        anchors.rightMargin: 10
        spacing: 10

        Label {
            Layout.fillWidth: true
            elide: Text.ElideRight
            color: bar.engine.modelReady ? bar.theme.text : bar.theme.subtle
            text: bar.engine.loading ? qsTr("Loading %1…").arg(bar.engine.loadingPath.split("/").pop())
                 : bar.engine.modelReady ? bar.engine.modelDescription
                 : qsTr("No model loaded")
        }
        ProgressBar {
            visible: bar.engine.loading
            Layout.preferredWidth: 160
            from: 0
            to: 1
            value: bar.engine.loadProgress
        }
        IconButton {
            objectName: "chatSettingsButton"
            flat: false
            display: AbstractButton.TextBesideIcon
            iconName: "sliders-horizontal"
            iconSize: 16
            text: qsTr("This chat…")
            toolTipText: qsTr("System prompt and reply settings for this chat only")
            onClicked: bar.chatSettingsRequested()
        }
        IconButton {
            objectName: "settingsButton"
            flat: false
            display: AbstractButton.TextBesideIcon
            iconName: "settings"
            iconSize: 16
            text: qsTr("Settings")
            toolTipText: qsTr("Models, engine, sampling and theme (Ctrl+,)")
            onClicked: bar.settingsRequested()
        }
    }
    Rectangle {
        anchors.bottom: parent.bottom
        width: parent.width
        height: 1
        color: bar.theme.border
    }
}
